"""The layout controller core: the session's current layout and its revisions.

`update_layout` is a command: (current layout, request) -> LayoutUpdated event. Full
replacement semantics (spec §7): omitted fields revert to defaults, so the request already is
the whole new layout. Recorders poll `get_layout(known_revision)` and redraw from the next frame.
"""

from __future__ import annotations

from cloudrec.events.envelope import Event
from cloudrec.events.layout import Layout, LayoutUpdated


def update_layout(sid: str, layout: Layout, at_ms: int) -> list[Event]:
    return [LayoutUpdated(stream_id=sid, at_ms=at_ms, layout=layout)]


class LayoutController:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.revision = 0

    def apply(self, layout: Layout) -> int:
        self.layout = layout
        self.revision += 1
        return self.revision

    def get_layout(self, known_revision: int) -> tuple[int, Layout] | None:
        if known_revision >= self.revision:
            return None
        return self.revision, self.layout
