"""The newest decoded picture of each user, chosen by the composite output clock."""

from __future__ import annotations

from collections import deque

import av

from cloudrec.actors.recorder.decoder import TimedFrame


class PictureBuffer:
    """Frames of one user's video in channel-time order; `frame_at(t)` is the newest not after t.

    Older frames are dropped as the clock passes them, so the buffer stays a few frames long;
    the last frame is kept (a user whose video pauses shows their last picture).
    """

    def __init__(self, limit: int = 120) -> None:
        self._frames: deque[TimedFrame] = deque(maxlen=limit)
        self._current: av.VideoFrame | None = None
        self.shown_us: int | None = None  # channel time of the frame `frame_at` last gave

    def add(self, timed: TimedFrame) -> None:
        self._frames.append(timed)

    def frame_at(self, channel_us: int) -> av.VideoFrame | None:
        while self._frames and self._frames[0].channel_us <= channel_us:
            timed = self._frames.popleft()
            assert isinstance(timed.frame, av.VideoFrame)
            self._current, self.shown_us = timed.frame, timed.channel_us
        return self._current

    def clear(self) -> None:
        self._frames.clear()
        self._current = self.shown_us = None
