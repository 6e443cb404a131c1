"""Bringing cloudrec up in one process: Ray, the event log, the controller and the service."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from cloudrec.actors.session.actor import ControllerActor
from cloudrec.actors.session.handle import ControllerHandle
from cloudrec.actors.session.supervisor import Quota
from cloudrec.cluster import options
from cloudrec.cluster.connect import connect
from cloudrec.config import StoragePlan
from cloudrec.events.backends import DEFAULT_EVENTS, open_event_log
from cloudrec.events.consumer_group import ConsumerGroup
from cloudrec.events.log import EventLog
from cloudrec.projections import status
from cloudrec.projections.runner import Commit, MemoryViewStore, ProjectionRunner
from cloudrec.service import RecordingService
from cloudrec.webhooks.config import WebhookSettings
from cloudrec.webhooks.deliverer import Deliverer, start_deliverer

DEFAULT_STORAGE = "file://recordings"
DEFAULT_WORKDIR = Path(".cloudrec/work")
DEFAULT_BACKUP = "file://.cloudrec/backup"


@dataclass(frozen=True)
class RuntimeSettings:
    events_url: str = DEFAULT_EVENTS
    storage_url: str = DEFAULT_STORAGE
    workdir: Path = DEFAULT_WORKDIR
    ray_address: str | None = None
    slice_seconds: float = 15.0
    s3_endpoint: str | None = None  # every vendor/region → this URL (else CLOUDREC_S3_ENDPOINT)
    backup_url: str = DEFAULT_BACKUP  # where files wait while a customer's storage is down
    webhooks: tuple[str, ...] = field(default=(), repr=False)  # APPID=URL[,secret=...]: secrets
    webhooks_file: Path | None = None  # JSON settings, re-read when it changes
    webhook_state: Path | None = None  # the deliverer's view store (default: .cloudrec/webhooks/)
    quota: Quota = field(default_factory=Quota.from_env)  # per app id
    placement: options.Placement = field(default_factory=options.Placement.from_env)
    num_cpus: int | None = None  # of a local cluster (default: the machine's)
    deliver_webhooks: bool = True  # False: a `cloudrec webhooks` process delivers them

    def webhook_settings(self) -> WebhookSettings:
        return WebhookSettings.from_options(self.webhooks, self.webhooks_file)

    def storage_plan(self) -> StoragePlan:
        """`s3://...` storage: each session uploads to its storageConfig bucket (S3 API)."""
        endpoint = self.s3_endpoint or os.environ.get("CLOUDREC_S3_ENDPOINT") or None
        return StoragePlan(s3=self.storage_url.startswith("s3://"), endpoint=endpoint,
                           backup_url=_absolute(self.backup_url))


@dataclass
class Runtime:
    settings: RuntimeSettings
    events: EventLog
    controller: Any
    service: RecordingService
    deliverer: Deliverer | None = None  # running when webhooks are configured

    def get_channel(self, appid: str, cname: str) -> Any:
        return ControllerHandle(self.controller).get_channel(appid, cname)


def _absolute(url: str) -> str:
    """Actors run in other working directories: pin relative paths to this one."""
    for scheme in ("sqlite:///", "file://"):
        if url.startswith(scheme) and not url.removeprefix(scheme).startswith("/"):
            return scheme + str(Path(url.removeprefix(scheme)).resolve())
    return url


def status_runner(events: EventLog, events_url: str) -> ProjectionRunner:
    """The `query` view's runner; on Kafka its position is committed to the consumer group
    `cloudrec-status` after each save (the view store itself is rebuilt when the API starts),
    in the background: a `query` does not wait for the broker to take a commit."""
    commit: Commit | None = None
    if events_url.startswith("kafka://"):
        commit = ConsumerGroup(events_url, "cloudrec-status").commit_later
    return ProjectionRunner(events, status, MemoryViewStore(), commit=commit)


class OtherController(RuntimeError):
    """The cluster's controller runs on another event log or storage than asked for."""


def check_same_controller(running: dict[str, str], events_url: str, storage_url: str) -> None:
    """One controller per cluster (a named, detached actor): a second cloudrec on other
    settings would drive it, and its sessions would go to a log it never reads."""
    wanted = {"events_url": events_url, "storage_url": storage_url}
    if running != wanted:
        raise OtherController(
            f"this Ray cluster already runs a cloudrec controller on other settings "
            f"(events {running.get('events_url')}, storage {running.get('storage_url')}; asked "
            f"for events {events_url}, storage {storage_url}): use the same settings, or end "
            f"that one first (the actor {options.CONTROLLER!r} in namespace "
            f"{options.NAMESPACE!r})")


def start_runtime(settings: RuntimeSettings) -> Runtime:
    events_url, storage_url = _absolute(settings.events_url), _absolute(settings.storage_url)
    connect(settings.ray_address, settings.num_cpus)
    home = ray.get_runtime_context().get_node_id()
    controller = options.remote(ControllerActor, options.controller_options(home)).remote(
        events_url, storage_url, quota=settings.quota, placement=settings.placement)
    check_same_controller(ray.get(controller.get_settings.remote()), events_url, storage_url)
    ray.get(controller.ready.remote())  # sessions recovered, a warm recorder waiting
    events = open_event_log(events_url)
    service = RecordingService(events, ControllerHandle(controller), settings.workdir.resolve(),
                               settings.slice_seconds, storage=settings.storage_plan(),
                               status_runner=status_runner(events, events_url))
    hooks = settings.webhook_settings() if settings.deliver_webhooks else None
    deliverer = start_deliverer(events, events_url, hooks, settings.webhook_state) if hooks \
        else None
    return Runtime(settings, events, controller, service, deliverer)
