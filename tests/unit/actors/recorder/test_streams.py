"""Per-user stream state (43/44): one event per transition, none while nothing changes."""

from cloudrec.actors.recorder.streams import NOT_RECEIVING, RECEIVING, StreamStates


def states(events):
    return [(e.stream_uid, e.track, e.state, e.utc_ms) for e in events]


def test_publish_unpublish_and_close_are_transitions_in_a_stable_order():
    streams = StreamStates("s" * 32, generation=1)
    assert states(streams.update({(7, "video"), (7, "audio"), (3, "audio")}, 100)) == [
        ("3", "audio", RECEIVING, 100), ("7", "audio", RECEIVING, 100),
        ("7", "video", RECEIVING, 100)]
    assert streams.update({(7, "video"), (7, "audio"), (3, "audio")}, 200) == []
    assert states(streams.update({(7, "audio"), (3, "audio")}, 300)) == [
        ("7", "video", NOT_RECEIVING, 300)]
    assert states(streams.close(400)) == [("3", "audio", NOT_RECEIVING, 400),
                                          ("7", "audio", NOT_RECEIVING, 400)]
    assert all(e.generation == 1 for e in streams.update({(3, "audio")}, 500))
