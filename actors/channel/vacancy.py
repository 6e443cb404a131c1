"""When a channel ends: nobody in it, nobody reading it, and nobody asked for it lately.

Channels are detached actors (a controller restart must not take the publishers' channel with
it) and publishers outside any session create them through `get_channel`, so no owner ends
them: each ends itself once it has been vacant for its grace period. Interest restarts the
period: a member joining or leaving, a subscriber coming or going, and `keep`, which
`get_channel` calls and the supervisor repeats for every channel one of its sessions records.
Once closed, a channel takes no one in (`ChannelClosed`): whoever asks for it again gets a
fresh one, so a joiner racing the close is never left in a channel that is going away.
"""

from __future__ import annotations

DEFAULT_GRACE_S = 60.0
# a subscriber that has not pulled for this long is gone (killed before it could unsubscribe):
# far beyond any stall of a live recorder, which pulls every 200 ms
STALE_SUBSCRIBER_S = 300.0


class ChannelClosed(Exception):
    """The channel ended (it was vacant for its grace period): ask for a fresh one."""


class Vacancy:
    def __init__(self, grace_us: int, now_us: int) -> None:
        self.grace_us = grace_us
        self.busy_us = now_us  # the last moment someone was in, or asked for, the channel
        self.closed = False

    def keep(self, now_us: int) -> None:
        """Someone wants the channel: the grace period starts again (refused once closed)."""
        if self.closed:
            raise ChannelClosed("this channel has ended; get it again for a fresh one")
        self.busy_us = max(self.busy_us, now_us)

    def left(self, now_us: int) -> None:
        """Someone left: if the channel is vacant now, its grace period starts here."""
        self.busy_us = max(self.busy_us, now_us)

    def close_if_over(self, occupied: bool, now_us: int) -> bool:
        """Close the channel if it has been vacant for the whole grace period."""
        if occupied:
            self.busy_us = max(self.busy_us, now_us)
        elif now_us - self.busy_us >= self.grace_us:
            self.closed = True
        return self.closed
