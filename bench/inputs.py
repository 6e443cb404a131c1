"""Inputs shared by the benchmarks: a synthetic publisher's packets as a file ffmpeg can read."""

from __future__ import annotations

from pathlib import Path

import av

from cloudrec.actors.channel.packet import MediaPacket
from cloudrec.actors.channel.synthetic import SyntheticPublisher

# The ffmpeg baseline's codec threads, as cloudrec's: its TrackDecoder, VideoEncoder (up to
# 1280x720@30, both benchmarks' canvases) and compositor scaling run one thread each, so ffmpeg
# gets one thread per decoder and for libx264 (and `-filter_complex_threads 1`).
FFMPEG_THREADS = ["-threads", "1"]


def write_ts(publisher: SyntheticPublisher, packets: list[MediaPacket], out: Path) -> Path:
    """The publisher's packets, as they are, in an MPEG-TS file for the ffmpeg baseline."""
    path = out / f"input_{publisher.uid}.ts"
    with av.open(str(path), "w", format="mpegts") as container:
        video = container.add_stream("h264", rate=publisher.fps)
        video.width, video.height = publisher.width, publisher.height
        audio = container.add_stream("libopus", rate=publisher.sample_rate, layout="mono")
        for media in packets:
            packet = av.Packet(media.data)
            packet.pts = packet.dts = media.pts
            packet.time_base = media.time_base
            packet.stream = video if media.kind == "video" else audio
            container.mux(packet)
    return path
