"""The audio mix of a composite recording: every user's audio summed on one sample timeline.

Users' decoded audio is first brought to float mono 48 kHz by `audio.AudioTimeline` (one
resampler per user track for the life of the stream, channels averaged), which places each
chunk at its absolute sample position on the mix timeline (derived from channel time) with
`AudioMixer.add`; the recorder pulls fixed-size output frames with `pop_until`.

Headroom rule: the mix is a plain sum and is never hard-clipped. A `Limiter` keeps every
output sample at or below `CEILING` (-6 dBFS): the margin a lossy encoder needs, since AAC at
~48 kbit/s reconstructs a loud signal with overshoot where a user's audio starts or stops (at
-1 dBFS decoded peaks went past full scale; at -3 dBFS a user joining a loaded recorder decoded
to 1.15, +4.2 dB; at -6 dBFS the same join decodes to ~0.8). Its gain moves smoothly: it starts
turning down one frame (`frame_size` samples, ~21 ms at 48 kHz) before a loud frame when that
frame is already mixed, drops at once only when it is not, and recovers over `RELEASE_FRAMES`
frames, so the waveform keeps its shape and no gain step becomes an audible click. Audio whose
head is dropped (it arrived after that part was emitted, or it overlaps the user's previous
chunk) fades in over `FADE_IN` samples instead of starting mid-wave.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

LAYOUTS = {1: "mono", 2: "stereo"}


CEILING = 10 ** (-6 / 20)  # -6 dBFS
RELEASE_FRAMES = 12  # ~0.25 s from full attenuation back to unity gain
FADE_IN = 240  # 5 ms at 48 kHz


def needed_gain(block: np.ndarray) -> float:
    """The largest gain (at most 1) that keeps `block` at or below `CEILING`."""
    peak = float(np.max(np.abs(block), initial=0.0))
    return min(1.0, CEILING / peak) if peak > 0 else 1.0


class Limiter:
    """A smooth, look-ahead-by-one-frame gain that keeps the mix under `CEILING`."""

    def __init__(self) -> None:
        self.gain = 1.0

    def apply(self, block: np.ndarray, ahead: np.ndarray) -> np.ndarray:
        """`block` times the gain ramp for it; `ahead` is whatever of the next frame is mixed."""
        need = needed_gain(block)
        target = min(need, needed_gain(ahead))
        if target >= self.gain:
            target = min(target, self.gain + 1.0 / RELEASE_FRAMES)
        if target == self.gain == 1.0:
            return block
        ramp = np.linspace(self.gain, target, len(block), dtype=np.float32)
        gains = np.minimum(ramp, np.float32(need))
        self.gain = float(gains[-1]) if len(gains) else self.gain
        return block * gains


class AudioMixer:
    """Sums users' float mono audio on an absolute sample timeline into fixed-size frames.

    Audio that lands before the already-emitted position, or before the end of that user's
    previous chunk (an overlap), is dropped, so nothing is mixed twice; gaps stay silent.
    """

    def __init__(self, sample_rate: int = 48000, channels: int = 1, frame_size: int = 1024) -> None:
        if channels not in LAYOUTS:
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        self.sample_rate, self.channels, self.frame_size = sample_rate, channels, frame_size
        self.time_base = Fraction(1, sample_rate)
        self._head = 0
        self._pending = np.zeros(0, np.float32)
        self._ends: dict[int, int] = {}
        self._limiter = Limiter()

    @property
    def position(self) -> int:
        """Sample position of the next frame `pop_until` will emit."""
        return self._head

    def add(self, uid: int, samples: np.ndarray, start_sample: int) -> None:
        """Mix `samples` (float32 mono at `sample_rate`) in from absolute `start_sample`."""
        previous_end = self._ends.get(uid, start_sample)
        start = max(start_sample, self._head, previous_end)
        self._ends[uid] = max(self._ends.get(uid, 0), start_sample + len(samples))
        chunk = np.asarray(samples, dtype=np.float32).reshape(-1)[start - start_sample :]
        if len(chunk) and start > start_sample:  # its head came too late or overlapped: no step
            chunk = chunk.copy()
            ramp = min(FADE_IN, len(chunk))
            chunk[:ramp] *= np.linspace(0.0, 1.0, ramp, dtype=np.float32)
        if len(chunk):
            offset = start - self._head
            self._reserve(offset + len(chunk))
            self._pending[offset : offset + len(chunk)] += chunk

    def take_back(self, samples: np.ndarray, start_sample: int) -> None:
        """Subtract audio already added but not yet emitted (a fade-out after the fact)."""
        skip = max(0, self._head - start_sample)
        chunk = np.asarray(samples, dtype=np.float32).reshape(-1)[skip:]
        offset = start_sample + skip - self._head
        end = min(offset + len(chunk), len(self._pending))
        if end > offset:
            self._pending[offset:end] -= chunk[: end - offset]

    def fade_out_until(self, sample_pos: int, length: int) -> None:
        """Ramp the mix down to silence over the `length` samples before the last whole frame
        that `pop_until(sample_pos)` will emit: the recording ends without a hard cut."""
        end = ((max(sample_pos - self._head, 0)) // self.frame_size) * self.frame_size
        start = max(0, end - length)
        self._reserve(end)
        self._pending[start:end] *= np.linspace(1.0, 0.0, end - start, dtype=np.float32)

    def remove(self, uid: int) -> None:
        """Forget a user who left; audio already added stays in the mix."""
        self._ends.pop(uid, None)

    def pop_until(self, sample_pos: int) -> list[av.AudioFrame]:
        """All whole frames ending at or before `sample_pos`, silence where nobody spoke."""
        count = max(sample_pos - self._head, 0) // self.frame_size
        return [self._pop_frame() for _ in range(count)]

    def flush(self) -> list[av.AudioFrame]:
        """Every buffered sample, the last frame padded with silence to `frame_size`."""
        return self.pop_until(self._head + len(self._pending) + self.frame_size - 1)

    def _reserve(self, length: int) -> None:
        if length > len(self._pending):
            extra = np.zeros(length - len(self._pending), np.float32)
            self._pending = np.concatenate([self._pending, extra])

    def _pop_frame(self) -> av.AudioFrame:
        self._reserve(self.frame_size)
        size = self.frame_size
        block = self._limiter.apply(self._pending[:size], self._pending[size : 2 * size])
        self._pending = self._pending[self.frame_size :]
        frame = self._frame_of(block)
        self._head += self.frame_size
        return frame

    def _frame_of(self, block: np.ndarray) -> av.AudioFrame:
        planes = np.ascontiguousarray(np.tile(block, (self.channels, 1)), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=LAYOUTS[self.channels])
        frame.sample_rate = self.sample_rate
        frame.pts = self._head
        frame.time_base = self.time_base
        return frame
