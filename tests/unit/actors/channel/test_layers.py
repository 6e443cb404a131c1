"""Dual-stream senders: each subscriber receives the video layer it asked for, one track per user,
and the high layer of a user who publishes no low one."""

from dataclasses import replace
from fractions import Fraction

import pytest

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.packet import HIGH, LOW, MediaPacket, TrackInfo

VIDEO_TB = Fraction(1, 90000)
AUDIO_TB = Fraction(1, 48000)
HIGH_VIDEO = TrackInfo(uid=1, kind="video", codec="h264", time_base=VIDEO_TB, width=640,
                       height=360)
LOW_VIDEO = replace(HIGH_VIDEO, width=320, height=180, layer=LOW)
AUDIO = TrackInfo(uid=1, kind="audio", codec="opus", time_base=AUDIO_TB, sample_rate=48000)


def vpacket(uid: int, pts: int, layer: int) -> MediaPacket:
    return MediaPacket(uid=uid, kind="video", data=bytes([layer]), pts=pts, time_base=VIDEO_TB,
                       keyframe=True, layer=layer)


def apacket(uid: int, pts: int) -> MediaPacket:
    return MediaPacket(uid=uid, kind="audio", data=b"a", pts=pts, time_base=AUDIO_TB)


def dual(uid: int, pts: int) -> list[MediaPacket]:
    return [vpacket(uid, pts, HIGH), vpacket(uid, pts, LOW), apacket(uid, pts * 48 // 90)]


@pytest.fixture
def channel() -> Channel:
    """User 1 sends both layers (low published first) and audio; user 2 sends only the high."""
    channel = Channel(clock=lambda: 0, share_publisher_offset=True)
    channel.subscribe("big")
    channel.subscribe("small", video_layer=LOW)
    for track in (LOW_VIDEO, HIGH_VIDEO, AUDIO, replace(HIGH_VIDEO, uid=2)):
        channel.publish(track)
    return channel


def received(channel: Channel, name: str) -> list[tuple[int, str, int]]:
    return [(p.uid, p.kind, p.layer) for p in channel.pull(name).packets]


def test_each_subscriber_receives_its_layer_and_the_high_one_of_single_stream_senders(
        channel: Channel) -> None:
    channel.push(dual(1, 0) + [vpacket(2, 0, HIGH)], now_us=1_000_000)
    assert received(channel, "big") == [(1, "video", HIGH), (1, "audio", HIGH),
                                        (2, "video", HIGH)]
    assert received(channel, "small") == [(1, "video", LOW), (1, "audio", HIGH),
                                          (2, "video", HIGH)]


def test_a_subscriber_sees_one_video_track_per_user(channel: Channel) -> None:
    sizes = {name: [(t.uid, t.kind, t.height) for t in channel.pull(name).tracks]
             for name in ("big", "small")}
    assert sizes == {"big": [(1, "video", 360), (1, "audio", 0), (2, "video", 360)],
                     "small": [(1, "video", 180), (1, "audio", 0), (2, "video", 360)]}


def test_layers_share_their_timestamps_on_the_channel(channel: Channel) -> None:
    channel.push(dual(1, 0), now_us=1_000_000)
    channel.push([vpacket(1, 9000, LOW)], now_us=1_050_000)  # low layer's first at 0.1 s
    channel.push([vpacket(1, 9000, HIGH)], now_us=1_300_000)  # the high arrives late
    assert [p.channel_us for p in channel.pull("small").packets] == [1_000_000, 1_000_000,
                                                                      1_100_000]
    assert [p.channel_us for p in channel.pull("big").packets] == [1_000_000, 1_000_000,
                                                                    1_100_000]


def test_the_low_layer_unpublished_falls_back_to_the_high_with_a_new_generation(
        channel: Channel) -> None:
    low = {t.uid: t.generation for t in channel.pull("small").tracks if t.kind == "video"}
    channel.unpublish(1, "video", layer=LOW)
    channel.push([vpacket(1, 0, HIGH)], now_us=0)
    batch = channel.pull("small")
    assert [(p.layer, p.generation) for p in batch.packets] == [(HIGH, 2)]
    high = {t.uid: t.generation for t in batch.tracks if t.kind == "video"}
    assert (low[1], high[1]) == (1, 2)


def test_a_low_subscriber_sees_only_the_changes_of_what_it_receives(channel: Channel) -> None:
    changes = channel.pull("small").changes
    published = [(c.uid, c.kind, c.generation) for c in changes if c.type == "published"]
    assert published == [(1, "video", 1), (1, "audio", 1), (2, "video", 1)]
    channel.leave(1, now_us=5)
    left = [(c.type, c.kind, c.generation) for c in channel.pull("small").changes]
    assert left == [("unpublished", "audio", 1), ("unpublished", "video", 1),
                    ("left", None, 0)]  # the high layer went first, unseen


def test_a_failover_replay_holds_only_the_wanted_layer(channel: Channel) -> None:
    channel.push(dual(1, 0), now_us=1_000_000)
    channel.subscribe("replacement", replay_from_us=0, video_layer=LOW)
    assert received(channel, "replacement") == [(1, "video", LOW), (1, "audio", HIGH)]


def test_audio_has_no_low_layer(channel: Channel) -> None:
    with pytest.raises(ValueError, match="only video"):
        channel.publish(replace(AUDIO, layer=LOW))
