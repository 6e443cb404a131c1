"""The one wrapper through which the API side calls the controller actor (tests use a fake).

A command the session's state refuses raises `Rejected` here, with the API's code and reason.
While the controller restarts (its process died; Ray starts it again and it recovers its
sessions from the log), calls are retried for up to `retry_s`; each command is safe to repeat:
a repeated `start` finds its own resourceId taken by its own sid, a repeated `stop` finds the
session stopping or ended, and updates replace what they set.
"""

from __future__ import annotations

import time
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError

from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.session.session import Rejected
from cloudrec.events.layout import Layout
from cloudrec.events.recording import RecordingStarted
from cloudrec.events.subscription import UidLists

Refusal = tuple[int, str, str] | None


class ControllerHandle:
    def __init__(self, actor: Any, retry_s: float = 60.0) -> None:
        self.actor, self.retry_s = actor, retry_s

    def start(self, config: RecordingConfig, started: RecordingStarted) -> None:
        refusal, retried = self._call("start", config, started)
        if retried and refusal is not None and refusal[:1] == (7,) and refusal[2] == config.sid:
            return  # the attempt lost in the restart had made this start
        _raise(refusal)

    def update_layout(self, sid: str, layout: Layout) -> None:
        _raise(self._call("update_layout", sid, layout)[0])

    def update_subscription(self, sid: str, audio: UidLists | None,
                            video: UidLists | None) -> None:
        _raise(self._call("update_subscription", sid, audio, video)[0])

    def stop(self, sid: str) -> str:
        (uploading, refusal), retried = self._call("stop", sid)
        if not (retried and refusal is not None and refusal[0] in (49, 404)):
            _raise(refusal)  # (a retry finding it stopped: the lost attempt stopped it)
        return str(uploading)

    def health(self, timeout_s: float = 3.0) -> dict[str, float]:
        """The controller's own health answer, or an exception if it does not answer soon."""
        answer: dict[str, float] = ray.get(self.actor.health.remote(), timeout=timeout_s)
        return answer

    def get_channel(self, appid: str, cname: str) -> Any:
        return self._call("get_channel", appid, cname)[0]

    def _call(self, method: str, *args: Any) -> tuple[Any, bool]:
        """The answer, and whether it took more than one attempt."""
        deadline, retried = time.monotonic() + self.retry_s, False
        while True:
            try:
                return ray.get(getattr(self.actor, method).remote(*args)), retried
            except (ActorUnavailableError, RayActorError):
                if time.monotonic() > deadline:
                    raise
                retried = True
                time.sleep(0.5)


def _raise(refusal: Refusal) -> None:
    if refusal is not None:
        raise Rejected(*refusal)
