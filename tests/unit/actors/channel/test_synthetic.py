"""Synthetic publisher: decode what it encodes and check colour, motion, GOP and tone."""

from fractions import Fraction

import av
import numpy as np
import pytest

from cloudrec.actors.channel.packet import MediaPacket
from cloudrec.actors.channel.synthetic import (
    MARKER_SIZE,
    SyntheticPublisher,
    publisher_colors,
    synthetic_publishers,
)

SECONDS = 2.0


def decode_video(packets: list[MediaPacket]) -> list[np.ndarray]:
    decoder = av.CodecContext.create("h264", "r")  # no extradata: SPS/PPS are in-band
    frames = [f for p in packets for f in decoder.decode(av.Packet(p.data))]
    frames += decoder.decode(None)
    return [f.to_ndarray(format="rgb24") for f in frames]


def decode_audio(packets: list[MediaPacket]) -> np.ndarray:
    decoder = av.CodecContext.create("opus", "r")  # no extradata: mono/stereo default mapping
    frames = [f for p in packets for f in decoder.decode(av.Packet(p.data))]
    return np.concatenate([f.to_ndarray()[0] for f in frames])


def marker_x(image: np.ndarray, color: tuple[int, int, int]) -> int:
    """Left edge of the region that differs from the background colour."""
    differs = np.abs(image.astype(int) - color).sum(axis=2) > 120
    return int(np.nonzero(differs.any(axis=0))[0][0])


@pytest.fixture(scope="module", params=[0, 3], ids=["red", "yellow"])
def publisher(request: pytest.FixtureRequest) -> tuple[SyntheticPublisher, list[MediaPacket]]:
    color, tone = publisher_colors(4)[request.param]
    source = SyntheticPublisher(uid=7, color=color, tone_hz=tone)
    return source, source.packets_until(SECONDS)


def of_kind(packets: list[MediaPacket], kind: str) -> list[MediaPacket]:
    return [p for p in packets if p.kind == kind]


def test_tracks_describe_the_encoded_streams(publisher) -> None:
    source, _ = publisher
    video, audio = source.tracks()
    assert (video.kind, video.codec, video.time_base) == ("video", "h264", Fraction(1, 90000))
    assert (video.width, video.height, video.extradata) == (320, 180, None)
    assert (audio.kind, audio.codec, audio.time_base) == ("audio", "opus", Fraction(1, 48000))
    assert audio.extradata is not None and audio.extradata.startswith(b"OpusHead")
    assert (audio.sample_rate, audio.channels) == (48000, 1)


def test_video_frames_have_the_colour_at_the_centre(publisher) -> None:
    source, packets = publisher
    images = decode_video(of_kind(packets, "video"))
    assert len(images) == SECONDS * source.fps
    for image in images:
        assert image.shape == (180, 320, 3)
        assert np.abs(image[90, 160].astype(int) - source.color).max() < 12


def test_marker_moves_as_drawn(publisher) -> None:
    source, packets = publisher
    images = decode_video(of_kind(packets, "video"))
    positions = [marker_x(image, source.color) for image in images[:8]]
    expected = [source.marker_position(i)[0] for i in range(8)]
    assert np.abs(np.array(positions) - expected).max() <= 2
    assert positions[7] - positions[0] >= 6 * MARKER_SIZE // 4


def test_keyframe_every_gop_with_in_band_parameter_sets(publisher) -> None:
    source, packets = publisher
    video = of_kind(packets, "video")
    assert [i for i, p in enumerate(video) if p.keyframe] == [0, 15]
    for packet in video:
        assert packet.data.startswith(b"\x00\x00\x00\x01") or packet.data.startswith(
            b"\x00\x00\x01"
        )
        nal_types = {b & 0x1F for b in _nal_headers(packet.data)}
        assert (7 in nal_types and 8 in nal_types) == packet.keyframe  # SPS and PPS
    assert [p.pts for p in video] == [i * 6000 for i in range(len(video))]


def _nal_headers(data: bytes) -> list[int]:
    return [data[i + 3] for i in range(len(data) - 3) if data[i : i + 3] == b"\x00\x00\x01"]


def test_audio_is_the_tone(publisher) -> None:
    source, packets = publisher
    audio = of_kind(packets, "audio")
    assert len(audio) == SECONDS * 50
    assert all(b.pts - a.pts == 960 for a, b in zip(audio, audio[1:], strict=False))
    samples = decode_audio(audio)[4800:]  # skip the encoder's warm-up
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    peak_hz = np.argmax(spectrum) * 48000 / len(samples)
    assert abs(peak_hz - source.tone_hz) < 3
    assert 0.15 < np.abs(samples).max() < 0.5


def test_packets_until_continues_without_repeats() -> None:
    source = SyntheticPublisher(uid=1, color=(0, 0, 255), tone_hz=700, width=64, height=48)
    first, second = source.packets_until(0.5), source.packets_until(1.0)
    video = of_kind(first + second, "video")
    assert [p.pts for p in video] == [i * 6000 for i in range(15)]
    assert all(p.seconds < 0.5 for p in first) and all(p.seconds >= 0.48 for p in second)
    assert [p.seconds for p in second] == sorted(p.seconds for p in second)
    assert source.packets_until(1.0) == []


def test_palette_colours_and_tones_are_distinct() -> None:
    looks = publisher_colors(12)
    assert looks[:4] == [
        ((255, 0, 0), 300.0),
        ((0, 255, 0), 500.0),
        ((0, 0, 255), 700.0),
        ((255, 255, 0), 900.0),
    ]
    assert len({color for color, _ in looks}) == 12 and len({tone for _, tone in looks}) == 12


def test_synthetic_publishers_get_consecutive_uids() -> None:
    publishers = synthetic_publishers(3, first_uid=10, width=64, height=48)
    assert [p.uid for p in publishers] == [10, 11, 12]
    assert publishers[2].color == (0, 0, 255)
