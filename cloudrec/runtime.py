"""Bringing cloudrec up in one process: Ray, the event log, the controller and the service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudrec.actors.session.actor import ControllerActor
from cloudrec.actors.session.handle import ControllerHandle
from cloudrec.cluster import options
from cloudrec.cluster.connect import connect
from cloudrec.events.backends import DEFAULT_EVENTS, open_event_log
from cloudrec.events.log import EventLog
from cloudrec.service import RecordingService

DEFAULT_STORAGE = "file://recordings"
DEFAULT_WORKDIR = Path(".cloudrec/work")


@dataclass(frozen=True)
class RuntimeSettings:
    events_url: str = DEFAULT_EVENTS
    storage_url: str = DEFAULT_STORAGE
    workdir: Path = DEFAULT_WORKDIR
    ray_address: str | None = None
    slice_seconds: float = 15.0


@dataclass
class Runtime:
    settings: RuntimeSettings
    events: EventLog
    controller: Any
    service: RecordingService

    def get_channel(self, appid: str, cname: str) -> Any:
        return ControllerHandle(self.controller).get_channel(appid, cname)


def _absolute(url: str) -> str:
    """Actors run in other working directories: pin relative paths to this one."""
    for scheme in ("sqlite:///", "file://"):
        if url.startswith(scheme) and not url.removeprefix(scheme).startswith("/"):
            return scheme + str(Path(url.removeprefix(scheme)).resolve())
    return url


def start_runtime(settings: RuntimeSettings) -> Runtime:
    events_url, storage_url = _absolute(settings.events_url), _absolute(settings.storage_url)
    connect(settings.ray_address)
    controller = options.remote(ControllerActor, options.controller_options()).remote(
        events_url, storage_url)
    events = open_event_log(events_url)
    service = RecordingService(events, ControllerHandle(controller), settings.workdir.resolve(),
                               settings.slice_seconds)
    return Runtime(settings, events, controller, service)
