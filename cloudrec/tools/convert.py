"""`cloudrec convert`: a playlist to one MP4, MP3 or M4A file (§16.2).

MP4 is a stream copy, like `ffmpeg -i in.m3u8 -c copy -bsf:a aac_adtstoasc out.mp4`: packets go
into the MP4 unchanged (the MP4 muxer turns ADTS AAC and Annex B H.264 into their MP4 forms).
Timestamps start at 0 and stay as they are while they continue from slice to slice; where they
jump (a restart after a discontinuity), the slice is placed by its UTC start relative to the first
slice (`tracks`), and never before what was already written. MP3 and M4A decode the audio of every
slice in order and encode it (libmp3lame, AAC) at 48 kHz.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream

from .report import Progress, complain
from .slices import channels, frames, has_audio, opened
from .sound import AudioEncoder
from .tracks import Slice, ToolError, read_slices, require_present

ENCODERS = {"mp3": "libmp3lame", "m4a": "aac"}
FORMATS = {"mp4": "mp4", "mp3": "mp3", "m4a": "ipod"}
JUMP = Fraction(1)  # seconds: a larger step between slices is a timestamp reset


def main(args: argparse.Namespace) -> int:
    try:
        for path in convert(args.source, args.target, args.out):
            sys.stdout.write(f"{path}\n")
    except ToolError as exc:
        complain("convert", str(exc))
        return 1
    return 0


def convert(source: Path, target: str, out: Path | None = None) -> list[Path]:
    """Convert `source` (a playlist or a folder of playlists); returns the files written.

    In a folder, playlists without slices, or without audio for MP3/M4A, are skipped.
    """
    jobs = [(read_slices(playlist, strict=False), _destination(playlist, source, target, out))
            for playlist in _playlists(source)]
    require_present(piece for pieces, _ in jobs for piece in pieces)
    if source.is_dir():
        jobs = [(pieces, path) for pieces, path in jobs if _convertible(pieces, target)]
    progress = Progress("convert", sum(p.duration for pieces, _ in jobs for p in pieces))
    for pieces, destination in jobs:
        write(pieces, target, destination, progress)
    return [destination for _, destination in jobs]


def _convertible(pieces: list[Slice], target: str) -> bool:
    return bool(pieces) and (target == "mp4" or has_audio(pieces[0]))


def _playlists(source: Path) -> list[Path]:
    playlists = sorted(source.glob("*.m3u8")) if source.is_dir() else [source]
    if not playlists or not playlists[0].is_file():
        raise ToolError(f"no playlist at {source}")
    return playlists


def _destination(playlist: Path, source: Path, target: str, out: Path | None) -> Path:
    name = f"{playlist.stem}.{target}"
    if source.is_dir():
        return (out or source) / name
    return out or playlist.with_name(name)


def write(pieces: list[Slice], target: str, destination: Path, progress: Progress) -> None:
    if not pieces:
        raise ToolError(f"{destination}: the playlist lists no slices")
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    try:
        with av.open(str(part), "w", format=FORMATS[target]) as out:
            if target == "mp4":
                _copy(pieces, out, progress)
            else:
                _transcode(pieces, out, ENCODERS[target], progress)
    except av.FFmpegError as exc:
        raise ToolError(f"cannot write {destination}: {exc}") from exc
    part.replace(destination)


def _transcode(pieces: list[Slice], out: OutputContainer, codec: str, progress: Progress) -> None:
    layout = "stereo" if channels(pieces[0]) > 1 else "mono"
    encoder = AudioEncoder(out, codec, layout)
    for piece in pieces:
        for _, frame in frames(piece, "audio"):
            encoder.write(frame)  # type: ignore[arg-type]
        progress.advance(piece.duration)
    encoder.close()


def _copy(pieces: list[Slice], out: OutputContainer, progress: Progress) -> None:
    copier = Copier(out, pieces[0].start)
    for piece in pieces:
        with opened(piece) as container:
            copier.copy(container, piece)
        progress.advance(piece.duration)


class Copier:
    """Stream-copies the audio and video of successive slices into one output container.

    The output gets one stream per kind found in the first slice; what later slices add is left out.
    """

    def __init__(self, out: OutputContainer, origin: float) -> None:
        self._out = out
        self._origin = origin  # UTC start of the first slice
        self._streams: dict[str, Stream] = {}
        self._shift: Fraction | None = None  # seconds added to input timestamps
        self._end = Fraction(0)  # output seconds reached so far
        self._last_dts: dict[str, int] = {}

    def copy(self, container: InputContainer, piece: Slice) -> None:
        inputs = [s for s in container.streams if s.type in ("audio", "video")]
        if self._shift is None:
            self._adopt(inputs)
        packets = [p for p in container.demux(inputs)
                   if p.dts is not None and p.size and p.stream.type in self._streams]
        if packets:
            self._rebase(min(_seconds(p, p.pts or p.dts or 0) for p in packets), piece)
            for packet in packets:
                self._mux(packet)

    def _adopt(self, inputs: list[Stream]) -> None:
        for stream in inputs:
            if stream.type not in self._streams:
                self._streams[stream.type] = self._out.add_stream_from_template(stream)

    def _rebase(self, first: Fraction, piece: Slice) -> None:
        if self._shift is not None and abs(first + self._shift - self._end) <= JUMP:
            return
        expected = Fraction(piece.start - self._origin)
        self._shift = max(expected, self._end) - first

    def _mux(self, packet: Packet[Stream]) -> None:
        assert self._shift is not None and packet.dts is not None
        kind, ticks = packet.stream.type, _ticks(self._shift, packet)
        if packet.dts + ticks <= self._last_dts.get(kind, -1):
            return  # a repeated packet: MP4 needs strictly increasing dts per stream
        end = (packet.pts if packet.pts is not None else packet.dts) + (packet.duration or 0)
        self._end = max(self._end, _seconds(packet, end + ticks))
        packet.dts += ticks
        packet.pts = None if packet.pts is None else packet.pts + ticks
        self._last_dts[kind] = packet.dts
        packet.stream = self._streams[kind]
        self._out.mux(packet)


def _ticks(seconds: Fraction, packet: Packet[Stream]) -> int:
    assert packet.time_base is not None
    return round(seconds / packet.time_base)


def _seconds(packet: Packet[Stream], ticks: int) -> Fraction:
    assert packet.time_base is not None
    return ticks * packet.time_base
