"""How long a recorder's channel has been idle (spec §2.3, `maxIdleTime`).

A communication channel (`channelType` 0) is idle while nobody but the recorder is in it: users
present but not publishing do not make it idle. A live-broadcast channel (`channelType` 1) is
idle while it has no host; hosts are the users who publish, the audience only listens.
"""

from __future__ import annotations

from cloudrec.actors.channel.channel import Batch

LIVE_BROADCAST = 1


class IdleClock:
    def __init__(self, channel_type: int, recorder_uid: int, now_us: int) -> None:
        self.channel_type, self.recorder_uid = channel_type, recorder_uid
        self.present = False
        self.last_present_us = now_us

    def observe(self, batch: Batch) -> None:
        """Who is in the channel now, from a batch the recorder pulled."""
        if self.channel_type == LIVE_BROADCAST:
            users = {track.uid for track in batch.tracks}
        else:
            users = set(batch.members)
        self.present = bool(users - {self.recorder_uid})

    def tick(self, now_us: int) -> None:
        if self.present:
            self.last_present_us = now_us

    def idle_for_s(self, now_us: int) -> float:
        return 0.0 if self.present else (now_us - self.last_present_us) / 1_000_000
