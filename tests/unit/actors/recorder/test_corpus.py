"""The conformance corpus (`corpus.CASES`) through both recorder cores, on a simulated clock.

Each case's file is published as it is (`FileSource`: demuxed, never decoded) by uid 1, beside a
synthetic reference publisher (uid 2: H.264 + Opus 48 kHz mono, the same tone amplitude), and
recorded for 3 s. What is checked is in the files:

- mix: the MP4 decodes without an error, lasts 3 s, shows the case's colour in uid 1's region
  (upright, for a rotated case), holds both users' tones within a few dB of each other, and
  reports corrupt media (a warning) for uid 1 only when its file was garbled;
- individual: every slice decodes, the playlists last 3 s, the remux is bit-exact (the slices hold
  the packets uid 1 sent, from its first key frame on), VP8/VP9 go to WebM slices, and a codec no
  slice can carry is one `TrackNotRecorded` event, the rest of the user recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.file_source import FileSource
from cloudrec.actors.channel.packet import MediaPacket
from cloudrec.actors.channel.synthetic import SyntheticPublisher
from cloudrec.actors.layout.geometry import PixelRect, regions, to_pixels
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.individual import IndividualRecorder
from cloudrec.actors.recorder.playlist import Playlist
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.recorder.track_output import RECORDABLE
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout
from cloudrec.events.memory import MemoryEventLog
from cloudrec.events.segment import MediaCorrupted, TrackNotRecorded

from . import corpus
from .test_individual import payload
from .test_recorder import median

T0 = 1_800_000_000_000_000  # µs
SID = "c" * 32
REFERENCE_COLOR, REFERENCE_TONE = (0, 255, 0), 500.0  # uid 2, the synthetic publisher
CANVAS = (320, 180)
RECORDED_S = 3.2  # the file lasts 3 s; a little more so its end is in


@dataclass
class Run:
    jobs: list[UploadJob]
    events: list[object]
    sent: dict[str, list[MediaPacket]] = field(default_factory=dict)

    def files(self, kind: str) -> dict[str, Path]:
        return {job.key: job.path for job in self.jobs if job.kind == kind}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def media(case: corpus.Case, folder: Path) -> Path:
    path = folder / f"{case.name}.{case.container}"
    if not path.exists():
        corpus.write(case, path)
    return path


def record(case: corpus.Case, folder: Path, out: Path, mode: str) -> Run:
    """uid 1 publishes the case's file, uid 2 the reference; `mode` records both."""
    clock = {"now": T0}
    channel = Channel(clock=lambda: clock["now"], share_publisher_offset=True)
    channel.subscribe("rec")
    reference = SyntheticPublisher(2, REFERENCE_COLOR, REFERENCE_TONE, width=160, height=90)
    with FileSource(str(media(case, folder)), uid=1) as source:
        for track in [*source.tracks(), *reference.tracks()]:
            channel.publish(track)
        config = RecordingConfig(sid=SID, appid="app", cname="room", recorder_uid=99,
                                 generation=1, workdir=out, mode=mode, width=CANVAS[0],
                                 height=CANVAS[1], layout=Layout(mixed_video_layout=1),
                                 av_file_types=("hls", "mp4"), slice_seconds=2.0)
        events = MemoryEventLog()
        run = Run([], [])
        core = (IndividualRecorder if mode == "individual" else Recorder)(
            config, events, run.jobs.append, t0_us=T0)
        for step in range(1, int(RECORDED_S * 10) + 1):
            clock["now"] = T0 + step * 100_000
            packets = source.packets_until(step / 10)
            for packet in packets:
                run.sent.setdefault(packet.kind, []).append(packet)
            channel.push(packets + reference.packets_until(step / 10))
            core.receive(channel.pull("rec"))
            core.render(clock["now"])
        core.finish(clock["now"])
    run.events = list(events.read_stream(SID))
    return run


def clean_from(case: corpus.Case, kind: str = "video") -> float:
    """Media seconds from which the case's picture (a mix holds the last good one over a loss)
    or sound (garbled audio decodes to noise) is whole."""
    if kind == "video":
        return 1.3 if case.damage == "no_key_frame" else 0.6
    return 2.3 if case.damage == "corrupt" else 0.6


# -- mix -----------------------------------------------------------------------------------

@dataclass
class Mix:
    frames: list[tuple[float, np.ndarray]]
    audio: np.ndarray  # float mono at 48 kHz
    duration: float


def decode_mix(path: Path) -> Mix:
    """Every frame and sample of a composite MP4; any decode error fails the test."""
    with av.open(str(path)) as container:
        duration = float(container.duration or 0) / 1_000_000
        frames = [(float(f.time), f.to_ndarray(format="rgb24"))
                  for f in container.decode(video=0)]
        container.seek(0)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
        blocks = [r.to_ndarray().reshape(-1) for f in container.decode(audio=0)
                  for r in resampler.resample(f)]
    return Mix(frames, np.concatenate(blocks), duration)


def assert_color(image: np.ndarray, rect: PixelRect, color: tuple[int, int, int]) -> None:
    seen = median(image, rect)
    assert np.abs(seen - color).max() < 40, (seen, color)


def tone_strength(samples: np.ndarray, hz: float, rate: int = 48_000) -> float:
    """Spectral magnitude around `hz` (Hann window), as tests/integration/media.py measures."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[(freqs > hz - 8) & (freqs < hz + 8)].max())


@pytest.mark.parametrize("case", corpus.CASES, ids=str)
def test_mix(case: corpus.Case, corpus_dir: Path, tmp_path: Path) -> None:
    run = record(case, corpus_dir, tmp_path, "mix")
    mix = decode_mix(next(job.path for job in run.jobs if job.kind == "mp4"))
    assert mix.duration == pytest.approx(RECORDED_S, abs=0.4)
    start = clean_from(case)
    region = next(r for r in regions(1, [1, 2], None) if r.uid == 1)
    tile = to_pixels(region, *CANVAS)
    shown = [image for t, image in mix.frames if start + 0.4 <= t <= 2.9]
    assert shown
    for image in shown:
        if case.video is not None and case.video.rotation == 90:  # turned upright: the
            assert_color(image, replace(tile, height=tile.height // 2), corpus.TURNED_COLOR)
            tile_bottom = replace(tile, y=tile.y + tile.height // 2, height=tile.height // 2)
            assert_color(image, tile_bottom, corpus.COLOR)  # right half is on top
        else:
            assert_color(image, tile, corpus.COLOR)
    window = mix.audio[int((clean_from(case, "audio") + 0.4) * 48_000) : int(2.9 * 48_000)]
    level = 20 * np.log10(tone_strength(window, corpus.TONE)
                          / tone_strength(window, REFERENCE_TONE))
    assert abs(level) < 3.0, f"{case}: uid 1 is {level:+.1f} dB against the reference"
    corrupted = {e.uid for e in run.events if isinstance(e, MediaCorrupted)}
    if case.damage != "lost":  # a lost reference may make the decoder refuse what follows
        assert corrupted == ({1} if case.damage == "corrupt" else set()), corrupted


# -- individual ----------------------------------------------------------------------------

def slices_of(run: Run, kind: str) -> list[Path]:
    prefix = f"{SID}_room__uid_s_1__uid_e_{kind}_"
    return [run.files("slice")[key] for key in sorted(run.files("slice"))
            if key.startswith(prefix)]


def demux_all(paths: list[Path], damaged: bool) -> list[bytes]:
    """Every packet's payload, slice after slice; each slice decodes without an error (or, when
    the input was damaged, the damage it carries faithfully is all that fails)."""
    out = []
    for path in paths:
        with av.open(str(path)) as container:
            stream = container.streams[0]
            packets = [p for p in container.demux(stream) if p.size]
            out += [unframed(bytes(p)) for p in packets]
            assert decodable(stream.codec_context, packets) >= len(packets) * (
                0.5 if damaged else 1.0), path
    return out


def decodable(context: av.CodecContext, packets: list[av.Packet]) -> int:
    """How many of `packets` decode; the decoder refuses a damaged one and goes on."""
    decoded = 0
    for packet in packets:
        try:
            context.decode(packet)
            decoded += 1
        except av.error.InvalidDataError:
            continue
    return decoded


def unframed(data: bytes) -> bytes:
    """A slice's packet as sent: without the TS muxer's AUD or ADTS header."""
    data = payload(data)
    return data[7:] if data[:2] in (b"\xff\xf1", b"\xff\xf9") else data


def recorded(sent: list[MediaPacket]) -> list[bytes]:
    """What individual mode records of what was sent: video from its first key frame on (a TS
    source's packets come with the AUD and ADTS framing already)."""
    first = next(i for i, p in enumerate(sent) if p.keyframe or p.kind == "audio")
    return [unframed(p.data) for p in sent[first:]]


def rotate_tags(playlist: str) -> list[str]:
    """WIDTH, HEIGHT and ROTATE of each `#EXT-X-AGORA-ROTATE`, a discontinuity before all but
    the first."""
    lines = playlist.splitlines()
    tags = [(i, line.split(":", 1)[1].rsplit(",TIME=", 1)[0]) for i, line in enumerate(lines)
            if line.startswith("#EXT-X-AGORA-ROTATE:")]
    assert all("#EXT-X-DISCONTINUITY" in lines[i - 2 : i] for i, _ in tags[1:]), playlist
    return [tag for _, tag in tags]


def sizes_of(spec: corpus.Video) -> list[str]:
    (width, height), turned = corpus.SIZE, spec.rotation
    sizes = [f"WIDTH={width},HEIGHT={height},ROTATE={turned}"]
    if spec.resize_at is not None:
        sizes.append(f"WIDTH={width * 2},HEIGHT={height * 2},ROTATE={turned}")
    return sizes


@pytest.mark.parametrize("case", corpus.CASES, ids=str)
def test_individual(case: corpus.Case, corpus_dir: Path, tmp_path: Path) -> None:
    run = record(case, corpus_dir, tmp_path, "individual")
    left_out = [(e.uid, e.track, e.codec) for e in run.events if isinstance(e, TrackNotRecorded)]
    expected_left_out = []
    for spec in (case.video, case.audio):
        assert spec is not None
        kind = "video" if isinstance(spec, corpus.Video) else "audio"
        if spec.codec not in RECORDABLE[kind]:
            expected_left_out.append((1, kind, spec.codec))
            assert not slices_of(run, kind)
            continue
        paths = slices_of(run, kind)
        webm = kind == "video" and spec.codec in ("vp8", "vp9")
        assert paths and all(p.suffix == (".webm" if webm else ".ts") for p in paths)
        got = demux_all(paths, damaged=case.damage is not None)
        assert got == recorded(run.sent[kind]), f"{case} {kind}: not bit-exact"
        playlist = next(path for key, path in run.files("playlist").items()
                        if key.endswith(f"__uid_s_1__uid_e_{kind}.m3u8"))
        lasts = Playlist.parse(playlist.read_text()).duration
        if isinstance(spec, corpus.Video):  # §13.2: every size and rotation the stream has
            assert rotate_tags(playlist.read_text()) == sizes_of(spec)
        keyless = kind == "video" and case.damage == "no_key_frame"
        assert lasts == pytest.approx(2.0 if keyless else 3.0, abs=0.4)
    assert left_out == expected_left_out
