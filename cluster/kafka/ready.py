"""Exit 0 once a Kafka broker answers a metadata request on BOOTSTRAP, else 1 after TIMEOUT s.

    python cluster/kafka/ready.py 127.0.0.1:9092 60
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient


async def answers(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.describe_cluster()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


def main(bootstrap: str, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        if asyncio.run(answers(bootstrap)):
            return 0
        if time.monotonic() >= deadline:
            return 1
        time.sleep(0.5)


if __name__ == "__main__":
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # connection refused while starting
    sys.exit(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 60.0))
