"""Places each user's decoded audio on the mix timeline (48 kHz mono samples since t0).

One resampler per user track, kept for the life of the stream. Positions come from channel
time at the first frame, then run contiguously; a jump of more than `resync_ms` (a gap, a
restart) re-anchors on channel time, so missing audio becomes silence, never a time shift.
Every run of audio fades in over `fade_ms`, and a track that ends fades out over its last
`fade_ms`: a hard cut in a tone is a step the AAC encoder would ring on, overshooting 1.0.
"""

from __future__ import annotations

import av
import numpy as np

from cloudrec.actors.recorder.decoder import TimedFrame
from cloudrec.actors.recorder.mixer import AudioMixer

RATE = 48_000
TrackKey = tuple[int, int]  # (uid, track generation)


class AudioTimeline:
    def __init__(self, mixer: AudioMixer, t0_us: int, resync_ms: int = 60,
                 fade_ms: int = 20) -> None:
        self.mixer = mixer
        self.t0_us = t0_us
        self.resync = resync_ms * RATE // 1000
        self.fade = np.linspace(0.0, 1.0, fade_ms * RATE // 1000, dtype=np.float32)
        self._resamplers: dict[TrackKey, av.AudioResampler] = {}
        self._next: dict[TrackKey, int] = {}
        self._tails: dict[TrackKey, tuple[int, np.ndarray]] = {}
        self._heard: dict[TrackKey, int] = {}  # samples of the current run mixed so far

    def add(self, uid: int, generation: int, timed: TimedFrame) -> None:
        key = (uid, generation)
        if not isinstance(timed.frame, av.AudioFrame):
            raise TypeError(f"audio track {key} gave a {type(timed.frame).__name__}")
        block = self._resample(key, timed.frame)
        if not len(block):
            return
        anchored = (timed.channel_us - self.t0_us) * RATE // 1_000_000
        position = self._next.get(key)
        fresh = position is None or abs(position - anchored) > self.resync
        if fresh:
            self._fade_out(key)
            position = anchored
        assert position is not None
        self._next[key] = position + len(block)
        late = max(0, self.mixer.position - position)  # already emitted: cannot be mixed
        block, position = block[late:], position + late
        if fresh:
            self._heard[key] = 0
        self._fade_in(key, block)
        if len(block):
            self.mixer.add(uid, block, position)
            self._keep_tail(key, block, position)

    def _fade_in(self, key: TrackKey, block: np.ndarray) -> None:
        """Ramp up the first `fade` samples of a run that are really mixed (in place)."""
        heard = self._heard.get(key, len(self.fade))
        ramp = self.fade[heard : heard + len(block)]
        block[: len(ramp)] *= ramp
        self._heard[key] = heard + len(block)

    def _resample(self, key: TrackKey, frame: av.AudioFrame) -> np.ndarray:
        """48 kHz float, the channels averaged: a stereo file whose channels are alike mixes at
        the level of the same sound in mono (FFmpeg's own downmix adds 3 dB to it)."""
        resampler = self._resamplers.setdefault(
            key, av.AudioResampler(format="fltp", rate=RATE))
        samples = [_averaged(f.to_ndarray()) for f in resampler.resample(frame)]
        if len(samples) == 1:
            return samples[0]
        return np.concatenate(samples) if samples else np.zeros(0, np.float32)

    def _keep_tail(self, key: TrackKey, block: np.ndarray, position: int) -> None:
        size = len(self.fade)
        if len(block) < size and key in self._tails:
            old_position, old = self._tails[key]
            if old_position + len(old) == position:
                block, position = np.concatenate([old, block]), old_position
        self._tails[key] = (position + max(0, len(block) - size), block[-size:].copy())

    def _fade_out(self, key: TrackKey) -> None:
        """Take back the un-faded part of a run's last samples (if not yet emitted)."""
        if key in self._tails:
            position, tail = self._tails.pop(key)
            down = np.linspace(1.0, 0.0, len(tail), dtype=np.float32)
            self.mixer.take_back(tail * (1.0 - down), position)

    def close_runs_before(self, sample_pos: int) -> None:
        """Fade out every run whose audio ends before `sample_pos`, about to be emitted: a user
        whose packets stopped (left, stalled, late) never ends in a hard cut. Audio that still
        comes for such a run later starts a new run, faded in."""
        for key, end in self._next.items():
            if end <= sample_pos and key in self._tails:
                self._fade_out(key)
                self._heard[key] = 0

    def forget(self, uid: int) -> None:
        for key in [k for k in self._resamplers if k[0] == uid]:
            self._fade_out(key)
            del self._resamplers[key]
            self._next.pop(key, None)
            self._heard.pop(key, None)
        self.mixer.remove(uid)

    def sample_at(self, channel_us: int) -> int:
        return max(0, (channel_us - self.t0_us) * RATE // 1_000_000)


def _averaged(planes: np.ndarray) -> np.ndarray:
    """One float32 channel from a (channels, samples) fltp array: the channels' mean (a mono
    frame's only row, as a writable copy: the fade-in scales it in place)."""
    mono: np.ndarray = planes[0].astype(np.float32, copy=True) if planes.shape[0] == 1 else \
        planes.sum(axis=0, dtype=np.float32) / np.float32(planes.shape[0])
    return mono
