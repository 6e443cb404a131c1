"""A projection runner that is one member of a consumer group: the members split the log's
partitions between them, and a member joining or leaving moves partitions without an event
lost or applied twice.

Each member folds only the partitions the group assigned it into a view store the members share
(views and each partition's position in one write, style rule 6). Handing a partition over:
the group revokes it from its owner, which first finishes and saves the batch it is folding
(`on_revoked` waits for the runner's lock), then assigns it to another member, which resumes
from the position stored with the views. A save that names the position it started from is
refused if the partition moved on meanwhile (`Conflict`), so even a member the group already
gave up on (paused, then back) cannot apply a batch a second time. Offsets are committed to
the group after the save (rule 7), for Kafka's tools to show each member's lag.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from cloudrec.projections.runner import ProjectionRunner

log = logging.getLogger(__name__)


class Member(Protocol):
    def commit(self, position: int, partition: int = 0) -> None: ...

    def close(self) -> None: ...


Join = Callable[[Callable[[set[int]], None], Callable[[set[int]], None]], Member]


class GroupRunner:
    def __init__(self, runner: ProjectionRunner, join: Join, poll_s: float = 0.05) -> None:
        """`join(on_assigned, on_revoked)` makes this process a member of the group (e.g.
        `lambda a, r: Membership(url, group, a, r)`); the runner starts with no partitions."""
        self.runner, self.poll_s = runner, poll_s
        runner.partitions = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.member = join(self._assigned, self._revoked)
        runner.commit = self.member.commit
        self._thread = threading.Thread(target=self._follow, name="group-runner", daemon=True)
        self._thread.start()

    @property
    def partitions(self) -> set[int]:
        with self._lock:
            return set(self.runner.partitions)

    def _assigned(self, partitions: set[int]) -> None:
        with self._lock:
            _forget(self.runner.store)  # another member may have folded these meanwhile
            self.runner.partitions |= partitions
        log.info("group runner: assigned partitions %s", sorted(partitions))

    def _revoked(self, partitions: set[int]) -> None:
        with self._lock:  # the batch being folded is saved first
            self.runner.partitions -= partitions
        log.info("group runner: revoked partitions %s", sorted(partitions))

    def _follow(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                try:
                    self.runner.catch_up()
                except Exception:  # e.g. the broker away: next round
                    log.exception("group runner: following the log failed; retrying")
            self._stop.wait(self.poll_s)

    def close(self) -> None:
        """Stop folding and leave the group (its partitions go to the other members)."""
        self._stop.set()
        self._thread.join(30)
        self.member.close()


def _forget(store: Any) -> None:
    forget = getattr(store, "forget", None)
    if forget is not None:
        forget()
