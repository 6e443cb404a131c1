"""The entrypoint `ray job submit` runs: the REST API and its controller on that cluster.

    ray job submit --address http://HEAD:8265 -- \\
        python -m cloudrec.cluster.job --customer ID:SECRET:APPID --host 0.0.0.0 --port 8080 \\
        --events kafka://BROKER:9092 --storage s3:// --s3-endpoint http://S3:9000

It is `cloudrec serve` joined to the job's own cluster (Ray sets RAY_ADDRESS for a job's
driver): the controller and every recording actor are placed by Ray on the cluster's nodes,
the API listens on the node the driver runs on (the head, unless the job asks for another).
Events and storage must be reachable from every node: Kafka and S3, not the embedded log and a
local directory, once the cluster has more than one node. Every `cloudrec serve` flag applies.
"""

from __future__ import annotations

import os
import sys

from cloudrec.cli import main as cli_main


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not os.environ.get("RAY_ADDRESS") and "--ray-address" not in args:
        print("cloudrec.cluster.job runs under `ray job submit` (RAY_ADDRESS is not set); "  # noqa: T201
              "use `cloudrec serve` to run cloudrec by hand", file=sys.stderr)
        return 2
    return cli_main(["serve", *args])


if __name__ == "__main__":
    raise SystemExit(main())
