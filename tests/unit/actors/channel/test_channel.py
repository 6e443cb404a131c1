"""Channel core: fan-out, per-track offsets, generations, leave, bounded buffers, changes,
history and replay."""

from fractions import Fraction

import pytest

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo

VIDEO_TB = Fraction(1, 90000)
AUDIO_TB = Fraction(1, 48000)


def video(uid: int) -> TrackInfo:
    return TrackInfo(uid=uid, kind="video", codec="h264", time_base=VIDEO_TB, width=320, height=180)


def audio(uid: int) -> TrackInfo:
    return TrackInfo(uid=uid, kind="audio", codec="opus", time_base=AUDIO_TB, sample_rate=48000)


def vpacket(uid: int, pts: int, keyframe: bool = False) -> MediaPacket:
    return MediaPacket(uid=uid, kind="video", data=b"v", pts=pts, time_base=VIDEO_TB,
                       keyframe=keyframe)


def apacket(uid: int, pts: int) -> MediaPacket:
    return MediaPacket(uid=uid, kind="audio", data=b"a", pts=pts, time_base=AUDIO_TB)


@pytest.fixture
def channel() -> Channel:
    now = iter(range(1_000_000, 10**12, 1_000))
    channel = Channel(clock=lambda: next(now), buffer_packets=100)
    channel.subscribe("rec")
    return channel


def test_fan_out_reaches_every_subscriber(channel: Channel) -> None:
    channel.subscribe("other")
    channel.publish(video(1))
    channel.push([vpacket(1, 0), vpacket(1, 6000)], now_us=5_000_000)
    for name in ("rec", "other"):
        assert [p.pts for p in channel.pull(name).packets] == [0, 6000]


def test_offset_is_fixed_at_first_packet(channel: Channel) -> None:
    channel.publish(video(1))
    channel.push([vpacket(1, 90000)], now_us=10_000_000)  # first pts 1 s arrives at 10 s
    channel.push([vpacket(1, 180000)], now_us=99_000_000)  # late arrival does not move it
    assert [p.channel_us for p in channel.pull("rec").packets] == [10_000_000, 11_000_000]


def test_tracks_of_users_who_joined_apart_line_up_by_arrival(channel: Channel) -> None:
    channel.publish(video(1))
    channel.publish(audio(2))
    channel.push([vpacket(1, 0)], now_us=1_000_000)
    channel.push([apacket(2, 0)], now_us=8_000_000)
    channel.push([vpacket(1, 7 * 90000), apacket(2, 48000)], now_us=9_000_000)
    stamps = [p.channel_us for p in channel.pull("rec").packets]
    assert stamps == [1_000_000, 8_000_000, 8_000_000, 9_000_000]


def test_republish_gets_new_generation_and_offset(channel: Channel) -> None:
    first = channel.publish(video(1))
    channel.push([vpacket(1, 0)], now_us=1_000_000)
    channel.unpublish(1, "video")
    second = channel.publish(video(1))
    channel.push([vpacket(1, 0)], now_us=5_000_000)  # encoder restarted at pts 0
    packets = channel.pull("rec").packets
    assert (first.generation, second.generation) == (1, 2)
    assert [(p.generation, p.channel_us) for p in packets] == [(1, 1_000_000), (2, 5_000_000)]


def test_shared_publisher_offset_keeps_audio_video_relation() -> None:
    channel = Channel(clock=lambda: 0, share_publisher_offset=True)
    channel.subscribe("rec")
    channel.publish(audio(1))
    channel.publish(video(1))
    channel.push([apacket(1, 0)], now_us=1_000_000)
    channel.push([vpacket(1, 9000)], now_us=1_300_000)  # 0.1 s of media, arrived 0.3 s later
    assert [p.channel_us for p in channel.pull("rec").packets] == [1_000_000, 1_100_000]


def test_packets_of_unpublished_tracks_are_dropped(channel: Channel) -> None:
    channel.publish(video(1))
    kept = channel.push([vpacket(1, 0), apacket(1, 0), vpacket(2, 0)], now_us=0)
    assert kept == 1
    assert channel.rejected == 2
    assert len(channel.pull("rec").packets) == 1


def test_leave_unpublishes_tracks_then_leaves(channel: Channel) -> None:
    channel.publish(video(1))
    channel.publish(audio(1))
    channel.pull("rec")
    channel.leave(1, now_us=42)
    batch = channel.pull("rec")
    assert [(c.type, c.uid, c.kind, c.channel_us) for c in batch.changes] == [
        ("unpublished", 1, "video", 42),
        ("unpublished", 1, "audio", 42),
        ("left", 1, None, 42),
    ]
    assert batch.tracks == [] and batch.members == []
    assert channel.push([vpacket(1, 0)], now_us=50) == 0


def test_changes_are_ordered_and_cleared_by_pull(channel: Channel) -> None:
    channel.join(7, now_us=10)
    channel.join(3, now_us=20)
    channel.join(7, now_us=25)  # already a member: no change
    channel.publish(audio(3), now_us=30)
    channel.unpublish(3, "audio", now_us=40)
    channel.leave(7, now_us=50)
    batch = channel.pull("rec")
    assert [(c.type, c.uid, c.channel_us) for c in batch.changes] == [
        ("joined", 7, 10),
        ("joined", 3, 20),
        ("published", 3, 30),
        ("unpublished", 3, 40),
        ("left", 7, 50),
    ]
    assert batch.members == [3]
    assert channel.pull("rec").changes == []


def test_members_keep_join_order_and_publish_joins(channel: Channel) -> None:
    channel.join(9)
    channel.publish(video(4))
    channel.join(2)
    batch = channel.pull("rec")
    assert batch.members == [9, 4, 2]
    assert [(t.uid, t.kind, t.generation) for t in batch.tracks] == [(4, "video", 1)]


def test_slow_subscriber_loses_oldest_packets_and_counts_them(channel: Channel) -> None:
    channel.publish(video(1))
    channel.push([vpacket(1, i * 6000) for i in range(130)], now_us=0)
    batch = channel.pull("rec", max_packets=1000)
    assert batch.dropped == 30
    assert [p.pts for p in batch.packets] == [i * 6000 for i in range(30, 130)]
    assert channel.pull("rec").dropped == 0
    assert channel.get_dropped_total("rec") == 30


def test_pull_respects_max_packets(channel: Channel) -> None:
    channel.publish(video(1))
    channel.push([vpacket(1, i) for i in range(10)], now_us=0)
    capped = channel.pull("rec", max_packets=4)
    assert [p.pts for p in capped.packets] == [0, 1, 2, 3]
    assert capped.pending == 6  # the subscriber knows more is waiting: it renders only so far
    assert capped.covered_until(10**12) == max(p.channel_us for p in capped.packets)
    rest = channel.pull("rec")
    assert len(rest.packets) == 6 and rest.pending == 0
    assert rest.covered_until(10**12) == 10**12


def test_new_subscriber_gets_snapshot_not_history(channel: Channel) -> None:
    channel.publish(video(1))
    channel.push([vpacket(1, 0)], now_us=0)
    channel.subscribe("late")
    batch = channel.pull("late")
    assert batch.packets == [] and batch.changes == []
    assert batch.members == [1] and len(batch.tracks) == 1


def test_unsubscribed_subscriber_stops_buffering(channel: Channel) -> None:
    channel.unsubscribe("rec")
    channel.publish(video(1))
    channel.push([vpacket(1, 0)], now_us=0)
    with pytest.raises(KeyError):
        channel.pull("rec")


# -- history and replay ---------------------------------------------------------------------------
# Every track's first packet is pushed at now_us=0 with pts 0, so its channel_us is its media time.


def audio_at(uid: int, us: int) -> MediaPacket:
    return apacket(uid, us * 48 // 1000)


def video_at(uid: int, us: int, keyframe: bool = False) -> MediaPacket:
    return vpacket(uid, us * 9 // 100, keyframe)


def stamps(packets: list[MediaPacket]) -> list[tuple[int, str, int]]:
    return [(p.uid, p.kind, p.channel_us) for p in packets]


def replayed(channel: Channel, from_us: int, name: str = "new") -> list[tuple[int, str, int]]:
    channel.subscribe(name, replay_from_us=from_us)
    return stamps(channel.pull(name).packets)


def test_history_keeps_history_us_behind_the_newest_packet() -> None:
    channel = Channel(clock=lambda: 0, history_us=1_000_000)
    channel.publish(audio(1))
    channel.push([audio_at(1, us) for us in range(0, 2_000_001, 500_000)], now_us=0)
    assert replayed(channel, 0) == [(1, "audio", 1_000_000), (1, "audio", 1_500_000),
                                    (1, "audio", 2_000_000)]


def test_history_keeps_at_most_history_packets_per_track() -> None:
    channel = Channel(clock=lambda: 0, history_packets=3)
    channel.publish(audio(1))
    channel.publish(video(2))
    channel.push([audio_at(1, us) for us in range(0, 100_000, 20_000)], now_us=0)
    channel.push([video_at(2, 0, keyframe=True)], now_us=0)
    assert replayed(channel, 0) == [(1, "audio", 40_000), (1, "audio", 60_000),
                                    (1, "audio", 80_000), (2, "video", 0)]


def test_audio_replay_starts_at_replay_from_us() -> None:
    channel = Channel(clock=lambda: 0)
    channel.publish(audio(1))
    channel.push([audio_at(1, us) for us in range(0, 200_000, 20_000)], now_us=0)
    assert replayed(channel, 130_000) == [(1, "audio", 140_000), (1, "audio", 160_000),
                                          (1, "audio", 180_000)]


@pytest.mark.parametrize(
    ("keyframes", "from_us", "expected"),
    [
        ({0, 300_000, 600_000}, 450_000, [300_000, 400_000, 500_000, 600_000, 700_000]),
        ({0, 300_000, 600_000}, 300_000, [300_000, 400_000, 500_000, 600_000, 700_000]),
        ({600_000}, 450_000, [600_000, 700_000]),  # no key frame before: the first one after
        (set(), 450_000, [500_000, 600_000, 700_000]),  # no key frame at all: from from_us
    ],
)
def test_video_replay_starts_at_a_key_frame(keyframes: set[int], from_us: int,
                                            expected: list[int]) -> None:
    channel = Channel(clock=lambda: 0)
    channel.publish(video(1))
    channel.push([video_at(1, us, us in keyframes) for us in range(0, 800_000, 100_000)],
                 now_us=0)
    assert replayed(channel, from_us) == [(1, "video", us) for us in expected]


def test_replay_keeps_arrival_order_across_tracks() -> None:
    channel = Channel(clock=lambda: 0)
    channel.publish(video(1))
    channel.publish(audio(2))
    channel.push([video_at(1, 0, keyframe=True)], now_us=0)
    channel.push([audio_at(2, 0)], now_us=500_000)  # audio's offset: 0.5 s
    channel.push([video_at(1, 1_000_000)], now_us=500_000)  # arrives early: stamped 1 s
    channel.push([audio_at(2, 100_000)], now_us=600_000)  # stamped 0.6 s, arrives after it
    assert replayed(channel, 0) == [(1, "video", 0), (2, "audio", 500_000),
                                    (1, "video", 1_000_000), (2, "audio", 600_000)]


def test_subscribe_without_replay_leaves_an_existing_subscriber_untouched(
    channel: Channel,
) -> None:
    channel.publish(audio(1))
    channel.push([apacket(1, 0), apacket(1, 960)], now_us=0)
    channel.subscribe("rec")
    assert [p.pts for p in channel.pull("rec").packets] == [0, 960]


def test_replay_replaces_an_existing_subscribers_buffer() -> None:
    channel = Channel(clock=lambda: 0)
    channel.subscribe("rec")
    channel.publish(audio(1))
    channel.push([audio_at(1, us) for us in range(0, 100_000, 20_000)], now_us=0)
    assert replayed(channel, 60_000, name="rec") == [(1, "audio", 60_000), (1, "audio", 80_000)]


def test_unpublish_drops_the_tracks_history() -> None:
    channel = Channel(clock=lambda: 0)
    channel.publish(video(1))
    channel.publish(audio(1))
    channel.push([video_at(1, 0, keyframe=True), audio_at(1, 0)], now_us=0)
    channel.unpublish(1, "audio")
    assert replayed(channel, 0, name="one") == [(1, "video", 0)]
    channel.publish(audio(1))
    channel.push([audio_at(1, 0)], now_us=2_000_000)  # the new generation starts its own history
    assert replayed(channel, 0, name="two") == [(1, "video", 0), (1, "audio", 2_000_000)]


def test_replaying_subscriber_then_receives_live_packets() -> None:
    channel = Channel(clock=lambda: 0)
    channel.publish(video(1))
    channel.publish(audio(2))
    channel.push([video_at(1, 0, keyframe=True), audio_at(2, 0), video_at(1, 40_000)], now_us=0)
    channel.subscribe("new", replay_from_us=40_000)
    channel.push([audio_at(2, 20_000), video_at(1, 80_000)], now_us=80_000)
    batch = channel.pull("new")
    assert stamps(batch.packets) == [(1, "video", 0), (1, "video", 40_000),
                                     (2, "audio", 20_000), (1, "video", 80_000)]
    assert batch.members == [1, 2]
    assert [(t.uid, t.kind) for t in batch.tracks] == [(1, "video"), (2, "audio")]


def test_a_burst_is_cut_into_parts_a_recorder_decodes_and_renders_one_at_a_time() -> None:
    """A 5 s burst (a new recorder's history) cut into 1 s parts: consecutive, every packet once
    and in order, each part within 1 s; all but the last say more is pending, so a recorder
    renders each only up to its newest packet; `dropped` is counted once."""
    from dataclasses import replace

    from cloudrec.actors.channel.channel import Batch

    packets = [replace(vpacket(1, n * 6000), channel_us=n * 66_667) for n in range(75)]
    batch = Batch(packets, [video(1)], [1], [], dropped=3, pending=0)
    parts = batch.parts(1_000_000)
    assert len(parts) == 5
    assert [p for part in parts for p in part.packets] == packets
    assert all(part.packets[-1].channel_us - part.packets[0].channel_us <= 1_000_000
               for part in parts)
    assert [part.covered_until(10**9) for part in parts] == [
        part.packets[-1].channel_us for part in parts[:-1]] + [10**9]
    assert [part.dropped for part in parts] == [3, 0, 0, 0, 0]
    small = Batch(packets[:10], [video(1)], [1], [], pending=7)
    assert small.parts(1_000_000) == [small]  # an ordinary pull stays whole
