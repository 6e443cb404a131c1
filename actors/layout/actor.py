"""Ray shell of a session's layout controller."""

from __future__ import annotations

import time

from cloudrec.actors.layout.controller import LayoutController, update_layout
from cloudrec.events.backends import open_event_log
from cloudrec.events.layout import Layout


class LayoutActor:
    def __init__(self, sid: str, layout: Layout, events_url: str) -> None:
        self.sid = sid
        self.core = LayoutController(layout)
        self.events = open_event_log(events_url)

    def update_layout(self, layout: Layout) -> int:
        self.events.append(update_layout(self.sid, layout, int(time.time() * 1000)))
        return self.core.apply(layout)

    def get_layout(self, known_revision: int) -> tuple[int, Layout] | None:
        return self.core.get_layout(known_revision)
