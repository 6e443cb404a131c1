"""The webhook deliverer: a projection runner over the event log that POSTs every callback.

Three threads: the follower (reads the log, folds `projections.delivery`, hands what became due to
the lanes, saves views + position, commits the consumer group: in that order, style rule 7), the
lanes' asyncio loop (HTTP, retries), and the journal (appends each attempt's outcome event).

Restart. The views (each session's callbacks state and its unsettled notifications) and the log
position are saved in one write, so a restarted deliverer first catches up with the log, letting
outcome events written before the crash settle what they settle, then hands every notification
still unsettled to the lanes, in sequence order, with its attempts so far. Nothing is skipped;
what was delivered but not yet recorded is sent again, with the same `noticeId`.

A deliverer whose view store is new does not deliver the log's history: it folds it (to know each
running session's sequence) and delivers from the log's end on, unless `from_beginning`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloudrec.events.log import EventLog
from cloudrec.projections.delivery import Deliveries, Pending
from cloudrec.projections.runner import Batch, CallbackRunner, Commit, ViewStore
from cloudrec.projections.view_store import CachedViewStore, SqliteViewStore
from cloudrec.webhooks.config import WebhookSettings
from cloudrec.webhooks.journal import Journal
from cloudrec.webhooks.lanes import Lanes
from cloudrec.webhooks.transport import HttpTransport, Transport

log = logging.getLogger("cloudrec.webhooks")
GROUP = "cloudrec-callbacks"  # the Kafka consumer group
STATE = Path(".cloudrec/webhooks")
OWED = "cloudrec.webhooks/owed"  # marks a store in use; OWED/<partition>: its sessions owing
REFRESH_S = 1.0  # how often the settings file is checked for changes


class DeliveryRunner(CallbackRunner):
    """A `CallbackRunner` that also keeps, per partition, the set of sessions owing
    notifications, saved with the views (so a restart finds them without scanning every view;
    per partition, so runners sharing a store never write the same set)."""

    _partition = 0

    def process(self, batch: Batch, partition: int = 0) -> int:
        self._partition = partition
        return super().process(batch, partition)

    def _fold(self, batch: Batch) -> dict[str, Any]:
        views = super()._fold(batch)
        key = f"{OWED}/{self._partition}"
        owed = set(self.store.get(key) or ())
        for sid, view in views.items():
            (owed.add if view.pending else owed.discard)(sid)
        views[key] = frozenset(owed)
        return views

    def owed(self) -> list[Pending]:
        keys = [OWED] + [f"{OWED}/{p}" for p in sorted(self.partitions)]  # OWED: older stores
        sids = sorted({sid for key in keys for sid in self.store.get(key) or ()})
        return [pending for sid in sids for pending in self.view(sid).pending]


class Deliverer:
    def __init__(self, events: EventLog, hooks: WebhookSettings, store: ViewStore,
                 commit: Commit | None = None,
                 transport: Transport | None = None, poll_s: float = 0.02,
                 from_beginning: bool = False, journal_workers: int = 4) -> None:
        self.events, self.hooks, self.poll_s = events, hooks, poll_s
        self.journal = Journal(events, journal_workers)
        self._live = from_beginning or store.get(OWED) is not None  # not new: no history skipped
        self.runner = DeliveryRunner(events, Deliveries(self._wants), store,
                                     deliver=self._submit, commit=commit)
        self._transport = transport or HttpTransport()
        self._loop = asyncio.new_event_loop()
        self.lanes = Lanes(hooks, self._transport, self.journal.record)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop.run_forever, daemon=True,
                                          name="webhook-lanes"),
                         threading.Thread(target=self._follow, daemon=True,
                                          name="webhook-follower")]
        self._recovering = True
        self.closers: list[Callable[[], None]] = []  # run by `stop`, last

    def start(self) -> Deliverer:
        self._threads[0].start()
        self.runner.catch_up()  # outcomes recorded before a restart settle first
        if self.runner.store.get(OWED) is None:
            self.runner.store.save({OWED: frozenset()}, self.runner.store.position(0))
        self._live, self._recovering = True, False
        for pending in self.runner.owed():
            self._submit(pending)
        self._threads[1].start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._threads[1].is_alive():
            self._threads[1].join(timeout_s)
        if self._threads[0].is_alive():
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout_s)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._threads[0].join(timeout_s)
        self.journal.close(timeout_s)
        for close in self.closers:
            close()

    def busy(self) -> int:
        """Notifications queued or being attempted (0 when all is settled or abandoned)."""
        return asyncio.run_coroutine_threadsafe(self._busy(), self._loop).result(10)

    def _wants(self, appid: str, event_type: int) -> bool:
        return self._live and self.hooks.wants(appid, event_type)

    def _submit(self, pending: Pending) -> None:
        if not self._recovering:  # while recovering, what is due is in the views
            self._loop.call_soon_threadsafe(self.lanes.submit, pending)

    def _follow(self) -> None:
        refreshed = time.monotonic()
        while not self._stop.is_set():
            try:
                self.runner.catch_up()
            except Exception:  # e.g. a commit refused while the broker is away: next round
                log.exception("webhook deliverer: following the log failed; retrying")
            if time.monotonic() - refreshed >= REFRESH_S:
                self.hooks.refresh()
                refreshed = time.monotonic()
            self._stop.wait(self.poll_s)

    async def _busy(self) -> int:
        return self.lanes.busy()

    async def _close(self) -> None:
        await self.lanes.close()
        await self._transport.close()


class Throttled:
    """A consumer-group commit made at most every `every_s` (and on `flush`): the view store's
    position is the deliverer's truth, the group's offset only shows Kafka tools its progress,
    and a commit per batch costs a broker round trip on the follower's path."""

    def __init__(self, commit: Commit, every_s: float = 1.0) -> None:
        self.commit, self.every_s = commit, every_s
        self.positions: dict[int, int] = {}
        self.committed: dict[int, int] = {}
        self._last = 0.0

    def __call__(self, position: int, partition: int = 0) -> None:
        self.positions[partition] = position
        if time.monotonic() - self._last >= self.every_s:
            self.flush()

    def flush(self) -> None:
        for partition, position in list(self.positions.items()):
            if position > self.committed.get(partition, 0):
                self.commit(position, partition)
                self.committed[partition] = position
        self._last = time.monotonic()


def state_path(events_url: str, root: Path = STATE) -> Path:
    """The default view store of a deliverer following `events_url` (one per log)."""
    return root / f"{hashlib.sha256(events_url.encode()).hexdigest()[:16]}.db"


def start_deliverer(events: EventLog, events_url: str, hooks: WebhookSettings,
                    state: Path | None = None, group: str = GROUP,
                    from_beginning: bool = False) -> Deliverer:
    """A running deliverer with a durable view store; on Kafka it commits to `group`."""
    store = CachedViewStore(SqliteViewStore(state or state_path(events_url)))
    commit: Commit | None = None
    closers: list[Callable[[], None]] = [store.close]
    kafka = events_url.startswith("kafka://")
    if kafka:
        from cloudrec.events.consumer_group import ConsumerGroup

        consumer_group = ConsumerGroup(events_url, group)
        throttled = Throttled(consumer_group.commit)
        commit, closers = throttled, [throttled.flush, consumer_group.close, *closers]
    deliverer = Deliverer(events, hooks, store, commit, from_beginning=from_beginning,
                          journal_workers=16 if kafka else 4)  # a Kafka append waits a round trip
    deliverer.closers.extend(closers)
    return deliverer.start()
