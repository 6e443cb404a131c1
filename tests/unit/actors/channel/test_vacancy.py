"""When a channel ends: vacant (no member, no subscriber) and not kept for a grace period; its
packet history stays bounded however long a track runs; subscribers that stopped pulling are
forgotten."""

from fractions import Fraction

import pytest

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.channel.vacancy import ChannelClosed, Vacancy

S = 1_000_000  # microseconds
TB = Fraction(1, 90000)


def test_a_vacant_channel_closes_only_after_the_whole_grace_period() -> None:
    vacancy = Vacancy(10 * S, now_us=0)
    assert not vacancy.close_if_over(occupied=False, now_us=9 * S)
    assert vacancy.close_if_over(occupied=False, now_us=10 * S)


def test_being_occupied_or_kept_restarts_the_grace_period() -> None:
    vacancy = Vacancy(10 * S, now_us=0)
    assert not vacancy.close_if_over(occupied=True, now_us=8 * S)
    assert not vacancy.close_if_over(occupied=False, now_us=17 * S)
    vacancy.keep(now_us=17 * S)
    assert not vacancy.close_if_over(occupied=False, now_us=26 * S)
    vacancy.left(now_us=26 * S)  # the last one left just now
    assert not vacancy.close_if_over(occupied=False, now_us=35 * S)
    assert vacancy.close_if_over(occupied=False, now_us=36 * S)


def test_a_closed_channel_takes_no_one_in() -> None:
    vacancy = Vacancy(1 * S, now_us=0)
    assert vacancy.close_if_over(occupied=False, now_us=2 * S)
    with pytest.raises(ChannelClosed):
        vacancy.keep(now_us=2 * S)
    assert vacancy.close_if_over(occupied=True, now_us=3 * S)  # closed stays closed


def test_a_channel_is_occupied_by_members_and_by_subscribers() -> None:
    channel = Channel(clock=lambda: 0)
    assert not channel.occupied()
    channel.join(1)
    assert channel.occupied()
    channel.leave(1)
    channel.subscribe("rec")
    assert channel.occupied()
    channel.unsubscribe("rec")
    assert not channel.occupied()


def test_subscribers_that_stopped_pulling_are_forgotten() -> None:
    channel = Channel(clock=lambda: 0)
    channel.subscribe("killed", now_us=0)
    channel.subscribe("live", now_us=0)
    channel.pull("live", now_us=50 * S)
    assert channel.drop_stale(idle_us=30 * S, now_us=60 * S) == ["killed"]
    assert channel.drop_stale(idle_us=30 * S, now_us=60 * S) == []
    assert channel.occupied()


def test_the_history_of_a_long_track_stays_bounded() -> None:
    channel = Channel(clock=lambda: 0, history_us=2 * S, history_packets=1_000)
    channel.publish(TrackInfo(uid=1, kind="video", codec="h264", time_base=TB))
    for second in range(60):
        channel.push([MediaPacket(uid=1, kind="video", data=b"v", pts=(second * 30 + i) * 3000,
                                  time_base=TB, keyframe=i == 0) for i in range(30)])
    kept = [len(history) for history in channel._history.values()]
    assert kept == [61]  # 2 s of 30 fps, both ends
    channel.unpublish(1, "video")
    assert channel._history == {}
