"""Reading one slice: its decoded frames with their UTC times, its picture size, its channels.

Frame times follow the anchoring in `tracks`: the slice's UTC start plus the frame's distance from
the slice's earliest timestamp.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from .tracks import Slice, ToolError

Frame = AudioFrame | VideoFrame


@contextmanager
def opened(piece: Slice) -> Iterator[InputContainer]:
    try:
        with av.open(str(piece.path)) as container:
            yield container
    except av.FFmpegError as exc:
        raise ToolError(f"cannot read slice {piece.path}: {exc}") from exc


def _stream(container: InputContainer, kind: str, piece: Slice) -> AudioStream | VideoStream:
    return _video(container, piece) if kind == "video" else _audio(container, piece)


def _video(container: InputContainer, piece: Slice) -> VideoStream:
    if not container.streams.video:
        raise ToolError(f"slice {piece.path} has no video stream")
    return container.streams.video[0]


def _audio(container: InputContainer, piece: Slice) -> AudioStream:
    if not container.streams.audio:
        raise ToolError(f"slice {piece.path} has no audio stream")
    return container.streams.audio[0]


def frames(piece: Slice, kind: str) -> Iterator[tuple[float, Frame]]:
    """(UTC seconds, frame) for every frame of the slice's `kind` stream, in time order."""
    with opened(piece) as container:
        stream = _stream(container, kind, piece)
        packets = [p for p in container.demux(stream) if p.pts is not None and p.size]
        origin = min((p.pts for p in packets if p.pts is not None), default=0)
        seconds = stream.time_base or Fraction(1, 90000)
        for packet in [*packets, None] if packets else []:
            for frame in stream.codec_context.decode(packet):
                if frame.pts is not None:
                    yield piece.start + float((frame.pts - origin) * seconds), frame


def picture_size(piece: Slice) -> tuple[int, int]:
    with opened(piece) as container:
        context = _video(container, piece).codec_context
        return context.width, context.height


def channels(piece: Slice) -> int:
    with opened(piece) as container:
        return int(_audio(container, piece).codec_context.layout.nb_channels)


def has_audio(piece: Slice) -> bool:
    with opened(piece) as container:
        return bool(container.streams.audio)
