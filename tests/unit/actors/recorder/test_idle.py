"""What counts as idle (spec §2.3) for each channel type."""

from fractions import Fraction

from cloudrec.actors.channel.channel import Batch
from cloudrec.actors.channel.packet import TrackInfo
from cloudrec.actors.recorder.idle import IdleClock

RECORDER = 9
S = 1_000_000


def batch(members, publishers=()):
    tracks = [TrackInfo(uid=u, kind="audio", codec="opus", time_base=Fraction(1, 48000))
              for u in publishers]
    return Batch(packets=[], tracks=tracks, members=list(members), changes=[])


def test_communication_channel_is_idle_only_with_nobody_in_it():
    clock = IdleClock(channel_type=0, recorder_uid=RECORDER, now_us=0)
    assert clock.idle_for_s(4 * S) == 4.0  # nobody ever came: idle since the start
    clock.observe(batch([1]))  # present, publishing nothing: not idle
    clock.tick(5 * S)
    assert clock.idle_for_s(20 * S) == 0.0
    clock.observe(batch([RECORDER]))  # only the recorder left
    assert clock.idle_for_s(12 * S) == 7.0


def test_live_broadcast_is_idle_without_a_host():
    clock = IdleClock(channel_type=1, recorder_uid=RECORDER, now_us=0)
    clock.observe(batch([1, 2]))  # audience only
    clock.tick(3 * S)
    assert clock.idle_for_s(3 * S) == 3.0
    clock.observe(batch([1, 2], publishers=[2]))  # a host publishes
    clock.tick(4 * S)
    assert clock.idle_for_s(6 * S) == 0.0
