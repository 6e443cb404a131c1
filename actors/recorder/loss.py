"""Which decoded pictures of a video track a composite may show, around lost and bad packets.

A video decoder that misses a packet (lost on the way, or undecodable) decodes the packets after
it against pictures it does not have: FFmpeg's VP8 decoder paints them over a grey reference
until the next key frame, the whole region in the wrong colour. So a mix keeps showing the user's
last good picture from the suspected loss up to the next key frame, as a receiver does while it
waits for the key frame it asked for.

Before a track's first key frame nothing can be decoded (a stream joined mid-way, or one whose
sender lost its first key frame): those packets are skipped, not fed to the decoder, which would
refuse them as corrupt (`waiting`); a source that flags no key frame at all is decoded after
`HOLD_US` all the same.

A loss is a packet the decoder refused, or, for codecs whose frames carry no frame number
(`TIMED_CODECS`: VP8, VP9), a decode-time step more than `GAP_FACTOR` times the track's usual
step (the median of its last `STEPS` steps): packets carry no sequence number. H.264 and HEVC
number their reference frames, so FFmpeg sees a missing one itself and conceals it; a frame an
H.264 encoder skipped (a phone's variable frame rate) must not freeze the picture. A VP8/VP9
sender that changes its frame rate looks like a loss for one packet: the picture then holds
until its next key frame, at most `HOLD_US`, after which the decoder's pictures are shown again
whatever they are (a sender that never sends a key frame again would otherwise freeze for good).
"""

from __future__ import annotations

from collections import deque
from statistics import median

TIMED_CODECS = frozenset({"vp8", "vp9"})
GAP_FACTOR = 1.5
STEPS = 8
HOLD_US = 2_000_000


class LossGate:
    """Per video track: `admit` says whether the pictures of a packet may be shown."""

    def __init__(self, codec: str = "vp8") -> None:
        self._timed = codec in TIMED_CODECS  # a gap in time is a loss
        self._last_us: int | None = None
        self._steps: deque[int] = deque(maxlen=STEPS)
        self._held_since: int | None = None
        self._keyed = False  # a key frame was seen (or waited for long enough)
        self._first_us: int | None = None

    def waiting(self, decode_us: int, keyframe: bool) -> bool:
        """Whether a packet comes before the track's first key frame (skip it, no warning)."""
        self._first_us = decode_us if self._first_us is None else self._first_us
        self._keyed = self._keyed or keyframe or decode_us - self._first_us > HOLD_US
        return not self._keyed

    def admit(self, decode_us: int, keyframe: bool, failed: bool = False) -> bool:
        """Note a packet decoded (or refused: `failed`) at channel decode time `decode_us`."""
        if keyframe and not failed:
            self._held_since = None
        elif failed or self._gap(decode_us):
            self._held_since = self._held_since if self._held_since is not None else decode_us
        if self._held_since is not None and decode_us - self._held_since > HOLD_US:
            self._held_since = None  # no key frame came: show what the decoder makes of it
        self._step(decode_us)
        return self._held_since is None and not failed

    def _gap(self, decode_us: int) -> bool:
        if not self._timed or self._last_us is None or len(self._steps) < 2:
            return False
        return decode_us - self._last_us > GAP_FACTOR * median(self._steps)

    def _step(self, decode_us: int) -> None:
        if self._last_us is not None and decode_us > self._last_us:
            self._steps.append(decode_us - self._last_us)
        self._last_us = decode_us if self._last_us is None else max(self._last_us, decode_us)
