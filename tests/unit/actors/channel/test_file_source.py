"""FileSource: write small real files with PyAV, publish them undecoded, decode what comes out."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.actors.channel.file_source import FileSource
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.channel.synthetic import SyntheticPublisher

SECONDS, FPS, TONE, COLOR = 2, 15, 700.0, (0, 0, 255)
FORMATS = {"mp4": "aac", "ts": "aac", "mkv": "libopus"}


def write_file(path: Path, audio_codec: str) -> None:
    """Two seconds of the synthetic picture (H.264 with B-frames) and a tone."""
    picture = SyntheticPublisher(uid=1, color=COLOR, tone_hz=TONE, width=160, height=90)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 160, 90, "yuv420p"
        audio = out.add_stream(audio_codec, rate=48000)
        audio.layout = "mono"
        for i in range(SECONDS * FPS):
            frame = picture.draw_frame(i)
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for frame in tone_frames(audio.codec_context.frame_size):
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))


def tone_frames(size: int) -> list[av.AudioFrame]:
    t = np.arange(SECONDS * 48000) / 48000
    wave = (0.3 * np.sin(2 * np.pi * TONE * t)).astype(np.float32)
    frames = []
    for start in range(0, len(wave) - size + 1, size):
        frame = av.AudioFrame.from_ndarray(wave[None, start : start + size], "flt", "mono")
        frame.sample_rate, frame.pts = 48000, start
        frames.append(frame)
    return frames


@pytest.fixture(scope="module", params=list(FORMATS))
def media_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / f"sample.{request.param}"
    write_file(path, FORMATS[request.param])
    return path


def decode(track: TrackInfo, packets: list[MediaPacket]) -> list[av.frame.Frame]:
    decoder = av.CodecContext.create(track.codec, "r")
    if track.extradata:
        decoder.extradata = track.extradata
    frames = [f for p in packets if p.kind == track.kind for f in decoder.decode(av.Packet(p.data))]
    return frames + list(decoder.decode(None))


def read_all(path: Path, **options) -> tuple[list[TrackInfo], list[MediaPacket]]:
    with FileSource(str(path), uid=5, **options) as source:
        return source.tracks(), source.packets_until(3600)


def test_tracks_describe_the_file(media_file: Path) -> None:
    video, audio = read_all(media_file)[0]
    with av.open(str(media_file)) as container:
        time_bases = [container.streams.video[0].time_base, container.streams.audio[0].time_base]
    assert (video.uid, video.kind, video.codec, video.width, video.height) == (
        5,
        "video",
        "h264",
        160,
        90,
    )
    assert (audio.kind, audio.codec, audio.sample_rate, audio.channels) == (
        "audio",
        "opus" if media_file.suffix == ".mkv" else "aac",
        48000,
        1,
    )
    assert [video.time_base, audio.time_base] == time_bases
    if media_file.suffix != ".ts":
        assert video.extradata is None  # rewritten to Annex-B
        assert audio.extradata  # AudioSpecificConfig / OpusHead


def test_packets_keep_counts_and_timestamps(media_file: Path) -> None:
    _, packets = read_all(media_file)
    video = [p for p in packets if p.kind == "video"]
    audio = [p for p in packets if p.kind == "audio"]
    assert len(video) == SECONDS * FPS
    assert video[0].keyframe and video[0].data[:4] == b"\x00\x00\x00\x01"
    start = min(p.seconds for p in video)
    times = sorted(p.seconds - start for p in video)
    assert np.allclose(times, np.arange(SECONDS * FPS) / FPS, atol=0.002)
    assert len(audio) >= SECONDS * 48000 // 1024
    assert all(b.pts > a.pts for a, b in zip(audio, audio[1:], strict=False))


def test_packets_decode_without_further_help(media_file: Path) -> None:
    (video_track, audio_track), packets = read_all(media_file)
    images = [f.to_ndarray(format="rgb24") for f in decode(video_track, packets)]
    assert len(images) == SECONDS * FPS
    assert all(np.abs(image[45, 80].astype(int) - COLOR).max() < 12 for image in images)
    samples = np.concatenate([f.to_ndarray()[0] for f in decode(audio_track, packets)])[4800:]
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    assert abs(np.argmax(spectrum) * 48000 / len(samples) - TONE) < 3


def test_packets_until_splits_by_media_time_from_the_start(media_file: Path) -> None:
    with FileSource(str(media_file)) as source:
        first = source.packets_until(1.0)
        rest = source.packets_until(3600)
        assert source.exhausted and source.packets_until(3600) == []
    first_video = [p for p in first if p.kind == "video"]
    assert 14 <= len(first_video) <= 17  # ~1 s of 15 fps by decode time (B-frames: dts < pts)
    assert len(first) + len(rest) == len(read_all(media_file)[1])


def test_annexb_can_be_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "plain.mp4"
    write_file(path, "aac")
    (video_track, _), packets = read_all(path, annexb=False)
    assert video_track.extradata is not None and video_track.extradata[:1] == b"\x01"  # avcC
    assert len(decode(video_track, packets)) == SECONDS * FPS


def test_a_file_without_media_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("no media here")
    with pytest.raises((ValueError, av.FFmpegError)):
        FileSource(str(path))


def _decode_seconds(packet: MediaPacket) -> float:
    return float((packet.dts if packet.dts is not None else packet.pts) * packet.time_base)


def test_every_track_is_released_at_its_own_time(media_file: Path) -> None:
    """`write_file` muxes all video before the audio, so the file holds its audio up to a second
    behind the video: still, each 100 ms batch holds every track's packets of those 100 ms (a
    publisher never sends audio late), each track in its own order."""
    with av.open(str(media_file)) as container:
        start = container.start_time / av.time_base  # FileSource's media time 0
    batches = []
    with FileSource(str(media_file)) as source:
        for step in range(1, SECONDS * 10 + 2):
            batches.append((step / 10, source.packets_until(step / 10)))
    for until, packets in batches:  # audio to the packet; video by pts, B-frames reordered
        times = [_decode_seconds(p) - start for p in packets if p.kind == "audio"]
        assert all(until - 0.1 <= t < until for t in times[1:]), (until, times)
        times = [_decode_seconds(p) - start for p in packets if p.kind == "video"]
        assert all(until - 0.4 <= t < until + 0.3 for t in times[1:]), (until, times)
    for kind in ("audio", "video"):  # each track in its file order, nothing lost
        sent = [p.pts for _, packets in batches for p in packets if p.kind == kind]
        assert sent == [p.pts for p in read_all(media_file)[1] if p.kind == kind]


@pytest.mark.parametrize("degrees", [0, 90, 270])
def test_a_video_track_says_its_display_rotation(tmp_path: Path, degrees: int) -> None:
    """A phone's MP4 stores its rotation in a display matrix, which no packet carries."""
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 160, 90, "yuv420p"
        video.set_display_rotation(degrees)
        picture = SyntheticPublisher(uid=1, color=COLOR, tone_hz=TONE, width=160, height=90)
        for i in range(3):
            frame = picture.draw_frame(i)
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    [track] = read_all(path)[0]
    assert (track.kind, track.width, track.height, track.rotation) == ("video", 160, 90, degrees)
