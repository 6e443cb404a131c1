"""LossGate: a video track's picture holds from a suspected loss to its next key frame."""

from cloudrec.actors.recorder.loss import HOLD_US, LossGate

STEP = 66_667  # µs: 15 fps


def test_pictures_after_a_gap_wait_for_the_next_key_frame() -> None:
    gate = LossGate()
    assert [gate.admit(i * STEP, i == 0) for i in range(5)] == [True] * 5
    assert not gate.admit(7 * STEP, False)  # two frames missing
    assert not gate.admit(8 * STEP, False)
    assert gate.admit(9 * STEP, True)
    assert gate.admit(10 * STEP, False)


def test_a_refused_packet_holds_the_picture_and_a_steady_stream_never_does() -> None:
    gate = LossGate()
    assert all(gate.admit(i * STEP, i % 15 == 0) for i in range(30))
    assert not gate.admit(30 * STEP, False, failed=True)
    assert not gate.admit(31 * STEP, False)
    assert not gate.admit(45 * STEP, True, failed=True)  # a refused key frame ends nothing
    assert gate.admit(46 * STEP, True)


def test_without_a_key_frame_the_hold_ends_after_a_while() -> None:
    gate = LossGate()
    for i in range(5):
        gate.admit(i * STEP, i == 0)
    held = 7 * STEP
    assert not gate.admit(held, False)
    assert not gate.admit(held + HOLD_US, False)
    assert gate.admit(held + HOLD_US + STEP, False)


def test_h264_is_held_only_for_a_refused_packet() -> None:
    """H.264 numbers its frames: FFmpeg conceals a loss, and a skipped frame is no loss."""
    gate = LossGate("h264")
    assert all(gate.admit(i * STEP, i == 0) for i in range(5))
    assert gate.admit(9 * STEP, False)
    assert not gate.admit(10 * STEP, False, failed=True)
    assert not gate.admit(11 * STEP, False)
    assert gate.admit(12 * STEP, True)


def test_packets_before_the_first_key_frame_are_waited_out() -> None:
    gate = LossGate("h264")
    assert gate.waiting(0, False) and gate.waiting(STEP, False)
    assert not gate.waiting(2 * STEP, True)
    assert not gate.waiting(3 * STEP, False)


def test_a_source_that_flags_no_key_frame_is_shown_after_a_while() -> None:
    gate = LossGate("h264")
    assert gate.waiting(0, False) and gate.waiting(HOLD_US, False)
    assert not gate.waiting(HOLD_US + STEP, False)
