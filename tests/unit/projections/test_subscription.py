"""The subscription fold: start's lists, replaced part by part by each update."""

from cloudrec.config import rules
from cloudrec.events.recording import RecordingStarted
from cloudrec.events.subscription import SubscriptionUpdated, UidLists
from cloudrec.projections import subscription

SID = "a" * 32


def started(recording: dict) -> RecordingStarted:
    return RecordingStarted(stream_id=SID, at_ms=1, appid="app", cname="room", uid="9",
                            resource_id="r", mode="mix", config={"recordingConfig": recording},
                            av_file_types=["hls"], file_prefix=[], playlist="p.m3u8")


def test_start_lists_under_both_deny_spellings():
    view = subscription.fold([started({"streamTypes": 2, "subscribeAudioUids": ["1"],
                                       "unsubscribeVideoUids": ["2"]})], SID)
    assert view.audio == UidLists(subscribe=("1",))
    assert view.video == UidLists(unsubscribe=("2",))


def test_each_update_replaces_only_the_media_it_carries():
    events = [started({"streamTypes": 2, "subscribeAudioUids": ["1"]}),
              SubscriptionUpdated(stream_id=SID, at_ms=2, video=UidLists(subscribe=("5",))),
              SubscriptionUpdated(stream_id=SID, at_ms=3, audio=UidLists(unsubscribe=("1",)))]
    view = subscription.fold(events, SID)
    assert (view.audio, view.video) == (UidLists(unsubscribe=("1",)), UidLists(subscribe=("5",)))
    audio, video = rules(view.stream_types, view.audio, view.video)
    assert not audio.wants(1) and audio.wants(2)
    assert video.wants(5) and not video.wants(6)


def test_rules_follow_the_start_semantics():
    no_lists = rules(2, None, None)
    assert all(rule.wants(42) for rule in no_lists)
    audio, video = rules(2, UidLists(subscribe=("#allstream#",)), None)
    assert audio.wants(42) and not video.wants(42)  # only an audio list: no video
    audio, video = rules(0, None, None)
    assert audio.wants(42) and not video.wants(42)  # streamTypes 0: audio only
