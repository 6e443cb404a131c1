"""Session-scoped real services: one local Ray cluster and one cloudrec runtime on it.

Every test gets its own app id and channel, so tests share the cluster without sharing state.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from cloudrec.client import RecordingClient
from cloudrec.runtime import Runtime, RuntimeSettings, start_runtime
from cloudrec.server import BackgroundServer, api_settings, parse_customer

SLICE_SECONDS = 6.0
CHANNEL_GRACE_S = 15.0  # a vacant channel ends after this (60 s by default)
KAFKA = os.environ.get("CLOUDREC_KAFKA", "127.0.0.1:9092")
KAFKA_SCRIPT = Path(__file__).resolve().parents[2] / "cluster" / "kafka" / "kafka.sh"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """A real Apache Kafka broker: the repo's script starts one unless one already answers.
    Never skipped: a missing broker fails the Kafka tests."""
    port = KAFKA.rpartition(":")[2]
    subprocess.run([str(KAFKA_SCRIPT), "up"], check=True,
                   env={**os.environ, "KAFKA_PORT": port, "PYTHON": sys.executable})
    return KAFKA


class Broker:
    """A Kafka broker this test session owns (its own port and data), so a test may restart it."""

    def __init__(self, port: int, state: Path) -> None:
        self.port, self.state = port, state
        self.bootstrap = f"127.0.0.1:{port}"

    def run(self, action: str) -> None:
        subprocess.run([str(KAFKA_SCRIPT), action], check=True, env={
            **os.environ, "KAFKA_PORT": str(self.port), "KAFKA_STATE": str(self.state),
            "PYTHON": sys.executable})


def _free_port_pair() -> int:
    """A port p with p and p + 1 (the controller) free on loopback."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with socket.socket() as controller:
            try:
                controller.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no free pair of ports for a Kafka broker")


@pytest.fixture(scope="session")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = Broker(_free_port_pair(), tmp_path_factory.mktemp("kafka"))
    broker.run("up")
    try:
        yield broker
    finally:
        broker.run("down")


@pytest.fixture
def kafka_url(kafka_bootstrap: str) -> str:
    """A fresh topic per test."""
    return f"kafka://{kafka_bootstrap}/test-{uuid.uuid4().hex[:12]}"


def _events_url(backend: str, root: Path, request: pytest.FixtureRequest) -> str:
    if backend == "kafka":
        broker: Broker = request.getfixturevalue("own_kafka")  # restartable (the R3 test)
        return f"kafka://{broker.bootstrap}/e2e-{uuid.uuid4().hex[:12]}"
    return f"sqlite:///{root}/events.db"


@pytest.fixture(scope="session", params=["embedded", "kafka"])
def runtime(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """The whole system, once per event log backend (configuration only: the events URL)."""
    root = tmp_path_factory.mktemp(f"cloudrec-{request.param}")
    settings = RuntimeSettings(events_url=_events_url(request.param, root, request),
                               storage_url=f"file://{root}/recordings",
                               workdir=root / "work", slice_seconds=SLICE_SECONDS)
    # 8 logical CPUs on 2 cores: recorders reserve their share of a core (cluster/options.py),
    # and the tests run more small recordings at once (plus lingering channels and uploaders)
    # than 2 would hold; placement itself is tested on a cluster of its own (test_multinode)
    ray.init(num_cpus=8, include_dashboard=False, namespace="cloudrec",
             runtime_env={"env_vars": {"PYTHONWARNINGS": "ignore",
                                       "CLOUDREC_CHANNEL_GRACE_S": str(CHANNEL_GRACE_S),
                                       # layout images from the tests' loopback HTTP servers
                                       "CLOUDREC_ALLOW_PRIVATE_IMAGE_HOSTS": "127.0.0.0/8"}})
    try:
        running = start_runtime(settings)
        yield running
        running.events.close()
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def customers() -> dict[str, tuple[str, str]]:
    """Two customers, each owning one app: customer id → (secret, appid)."""
    return {"alice": (secrets.token_hex(8), "a" * 32), "bob": (secrets.token_hex(8), "b" * 32)}


@pytest.fixture(scope="session")
def server(runtime: Runtime, customers: dict[str, tuple[str, str]]) -> Iterator[BackgroundServer]:
    entries = [parse_customer(f"{who}:{secret}:{app}") for who, (secret, app) in customers.items()]
    with BackgroundServer(runtime, api_settings(entries, rate_limit=50)) as running:
        yield running


@pytest.fixture
def client_for(server: BackgroundServer, customers: dict[str, tuple[str, str]]):  # type: ignore[no-untyped-def]
    made: list[RecordingClient] = []

    def make(who: str, appid: str | None = None) -> RecordingClient:
        secret, own_app = customers[who]
        made.append(RecordingClient(server.url, who, secret, appid or own_app))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def storage_root(runtime: Runtime) -> Path:
    return Path(runtime.settings.storage_url.removeprefix("file://"))
