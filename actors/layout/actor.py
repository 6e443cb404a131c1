"""Ray shell of a session's layout controller: the layout in force and its revisions.

The supervisor appends `LayoutUpdated` and then pushes the layout here and to the recorder; a
restarted controller builds this actor again from the log's last layout.
"""

from __future__ import annotations

from cloudrec.actors.layout.controller import LayoutController
from cloudrec.events.layout import Layout


class LayoutActor:
    def __init__(self, sid: str, layout: Layout, events_url: str = "") -> None:
        self.sid = sid
        self.core = LayoutController(layout)

    def update_layout(self, layout: Layout) -> int:
        return self.core.apply(layout)

    def get_layout(self, known_revision: int) -> tuple[int, Layout] | None:
        return self.core.get_layout(known_revision)
