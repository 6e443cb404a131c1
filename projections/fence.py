"""Generation fencing shared by every projection (architecture principle 4).

A recorder generation owns a session from its `RecorderLaunched` on. Events stamped with an older,
non-zero generation come from a zombie and are ignored; generation 0 is the supervisor/API and is
never fenced.
"""

from __future__ import annotations

from cloudrec.events.envelope import Event


def is_fenced(current_generation: int, event: Event) -> bool:
    """True when `event` was written by a generation older than the current one."""
    return 0 < event.generation < current_generation
