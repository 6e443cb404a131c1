"""The layout controller core: the session's current layout and its revisions.

The `updateLayout` command is decided by the session (`actors/session/session.py`): full
replacement semantics (spec §7), omitted fields revert to defaults, so the request already is
the whole new layout. `get_layout(known_revision)` answers whoever asks what is in force.
"""

from __future__ import annotations

from cloudrec.events.layout import Layout


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
