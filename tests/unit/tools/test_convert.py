"""`cloudrec convert`: a composite playlist (H.264 + AAC slices, a 440 Hz tone) to MP4/MP3/M4A."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from cloudrec.cli import main
from cloudrec.tools.convert import convert

from ..api.names import LEGAL_CNAMES
from . import recording
from .recording import RATE, T0, Run, decoded_audio, prefix, record, record_composite

SECONDS = 9.0


@pytest.fixture
def playlist(tmp_path: Path) -> Path:
    return record_composite(tmp_path / "mix", Run(T0, SECONDS))


def packets(paths: list[Path], kind: str) -> list[bytes]:
    found = []
    for path in paths:
        with av.open(str(path)) as container:
            stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
            found += [bytes(p) for p in container.demux(stream) if p.size]
    return found


def annexb_units(data: bytes) -> list[bytes]:
    units = [u.lstrip(b"\x00") for u in data.split(b"\x00\x00\x01")]
    return [u.rstrip(b"\x00") for u in units if u]


def length_prefixed_units(data: bytes) -> list[bytes]:
    units, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        units.append(data[at + 4:at + 4 + size])
        at += 4 + size
    return units


def picture_units(units: list[bytes]) -> list[bytes]:
    """NAL units that carry the picture: no access unit delimiters, parameter sets or SEI."""
    return [u for u in units if u[0] & 0x1F not in (6, 7, 8, 9)]


def adts_payload(frame: bytes) -> bytes:
    protection_absent = frame[1] & 1
    return frame[7 if protection_absent else 9:]


def dominant_frequency(path: Path) -> float:
    _, samples = decoded_audio(path)
    middle = samples[len(samples) // 4: len(samples) // 4 + RATE]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    return float(np.argmax(spectrum) * RATE / len(middle))


def test_mp4_is_a_stream_copy_of_the_slices(playlist: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["convert", str(playlist), "--to", "mp4"]) == 0
    out = playlist.with_suffix(".mp4")
    assert "convert: 100%" in capsys.readouterr().err
    slices = sorted(playlist.parent.glob("*.ts"))
    copied, original = packets([out], "video"), packets(slices, "video")
    assert len(copied) == len(original) == SECONDS * 30
    for ours, theirs in zip(copied, original, strict=True):
        assert picture_units(length_prefixed_units(ours)) == picture_units(annexb_units(theirs))
    audio = packets([out], "audio")
    assert audio == [adts_payload(frame) for frame in packets(slices, "audio")]
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert float(video.start_time * video.time_base) < 0.03  # starts at 0, as with ffmpeg
        assert float(video.duration * video.time_base) == pytest.approx(SECONDS, abs=0.05)


@pytest.mark.parametrize("target, codec", [("mp3", "mp3"), ("m4a", "aac")])
def test_audio_formats_decode_to_the_tone(playlist: Path, target: str, codec: str):
    out = convert(playlist, target, playlist.parent / f"out.{target}")[0]
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["audio"]
        assert container.streams.audio[0].codec_context.name.startswith(codec)
    assert dominant_frequency(out) == pytest.approx(440, abs=2)
    _, samples = decoded_audio(out)
    assert len(samples) / RATE == pytest.approx(SECONDS, abs=0.1)


def test_a_folder_converts_every_playlist_with_audio(playlist: Path, tmp_path: Path):
    record(playlist.parent, 7, [Run(T0, 4.0)])  # individual Opus and H.264 playlists
    outputs = convert(playlist.parent, "m4a", tmp_path / "out")
    assert sorted(p.name for p in outputs) == sorted(
        [playlist.with_suffix(".m4a").name, prefix(playlist.parent, 7, "audio").name + ".m4a"])
    for out in outputs:
        assert out.parent == tmp_path / "out"
        assert dominant_frequency(out) == pytest.approx(440, abs=2)


def test_a_missing_slice_is_a_clear_error(playlist: Path, capsys: pytest.CaptureFixture[str]):
    victim = sorted(playlist.parent.glob("*.ts"))[1]
    victim.unlink()
    assert main(["convert", str(playlist), "--to", "mp4"]) == 1
    error = capsys.readouterr().err
    assert "missing" in error and victim.name in error
    assert not list(playlist.parent.glob("*.mp4*"))


@pytest.mark.parametrize("cname", LEGAL_CNAMES)
def test_a_channel_name_of_any_legal_characters_converts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cname: str):
    monkeypatch.setattr(recording, "CNAME", cname)
    playlist = record_composite(tmp_path, Run(T0, 3.0), slice_seconds=1.0)
    assert playlist.name == f"{recording.SID}_{cname}.m3u8"
    out = convert(playlist, "mp4")[0]
    assert out.name == f"{recording.SID}_{cname}.mp4"
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert video.frames == 3 * 30
