"""Places each user's decoded audio on the mix timeline (48 kHz mono samples since t0).

One resampler per user track, kept for the life of the stream. Positions come from channel
time at the first frame, then run contiguously; a jump of more than `resync_ms` (a gap, a
restart) re-anchors on channel time, so missing audio becomes silence, never a time shift.
"""

from __future__ import annotations

import av
import numpy as np

from cloudrec.actors.recorder.decoder import TimedFrame
from cloudrec.actors.recorder.mixer import AudioMixer

RATE = 48_000


class AudioTimeline:
    def __init__(self, mixer: AudioMixer, t0_us: int, resync_ms: int = 60) -> None:
        self.mixer = mixer
        self.t0_us = t0_us
        self.resync = resync_ms * RATE // 1000
        self._resamplers: dict[tuple[int, int], av.AudioResampler] = {}
        self._next: dict[tuple[int, int], int] = {}

    def add(self, uid: int, generation: int, timed: TimedFrame) -> None:
        key = (uid, generation)
        resampler = self._resamplers.setdefault(
            key, av.AudioResampler(format="flt", layout="mono", rate=RATE))
        samples = [f.to_ndarray().reshape(-1) for f in resampler.resample(timed.frame)]
        if not samples:
            return
        block = np.concatenate(samples).astype(np.float32)
        anchored = (timed.channel_us - self.t0_us) * RATE // 1_000_000
        position = self._next.get(key, anchored)
        if abs(position - anchored) > self.resync:
            position = anchored
        self._next[key] = position + len(block)
        if position < 0:
            block, position = block[-position:], 0
        if len(block):
            self.mixer.add(uid, block, position)

    def forget(self, uid: int) -> None:
        for key in [k for k in self._resamplers if k[0] == uid]:
            del self._resamplers[key]
            self._next.pop(key, None)

    def sample_at(self, channel_us: int) -> int:
        return max(0, (channel_us - self.t0_us) * RATE // 1_000_000)
