"""Webhook notifications folded from a session: envelope, sequence, order, details, signature."""

from __future__ import annotations

import json

from cloudrec.events.layout import LayoutImageFailed
from cloudrec.events.segment import MediaCorrupted, TrackNotRecorded
from cloudrec.projections import callbacks, status

from .session import T0, SessionEvents

SERVICE_TYPES = {40: 1, 30: 2, 43: 1, 44: 1, 42: 1, 4: 0, 41: 1, 31: 2, 32: 2, 11: 0, 3: 0,
                 12: 0, 1: 0, 2: 0}  # fmt: skip


def notify(events: list, state: callbacks.CallbackState | None = None) -> list[dict]:
    state = state or callbacks.initial(events[0].stream_id)
    out: list[dict] = []
    for event in events:
        state, notices = callbacks.apply(state, event)
        out.extend(notices)
    return out


def types(notices: list[dict]) -> list[int]:
    return [n["eventType"] for n in notices]


def test_a_full_session_notifies_in_spec_order_with_a_running_sequence() -> None:
    s = SessionEvents()
    events = s.full()
    events.insert(3, s.repeated())

    notices = notify(events)

    assert types(notices) == [40, 30, 3, 43, 44, 42, 4, 41, 31, 11]
    assert [n["payload"]["sequence"] for n in notices] == list(range(10))


def test_envelope_has_the_exact_spec_shape() -> None:
    s = SessionEvents()
    events = s.full()

    notices = notify(events)

    first = notices[0]
    assert set(first) == {"noticeId", "productId", "eventType", "notifyMs", "sid", "payload"}
    assert first["productId"] == 3
    assert first["sid"] == "sid1"
    assert first["notifyMs"] == events[1].at_ms
    assert first["payload"] == {
        "cname": "room42", "uid": "1001", "sid": "sid1", "sequence": 0,
        "sendts": events[1].at_ms, "serviceType": 1, "serviceScene": "rtc_record",
        "details": {"msgName": "recorder_started", "status": 0},
    }  # fmt: skip
    assert all(n["payload"]["serviceType"] == SERVICE_TYPES[n["eventType"]] for n in notices)
    assert len({n["noticeId"] for n in notices}) == len(notices)
    json.dumps(notices)  # serialisable as a webhook body


def test_details_of_each_event_type() -> None:
    s = SessionEvents()
    events = s.full()

    details = {n["eventType"]: n["payload"]["details"] for n in notify(events)}

    assert details[30] == {"msgName": "uploader_started", "status": 0}
    audio = events[3]
    assert details[43] == {"msgName": "recorder_audio_stream_state_changed", "streamUid": "0",
                           "state": 0, "UtcMs": audio.utc_ms}  # fmt: skip
    assert details[44]["msgName"] == "recorder_video_stream_state_changed"
    started = events[5]
    assert details[42] == {"msgName": "recorder_slice_start", "startUtcMs": started.start_ms,
                           "discontinueUtcMs": started.start_ms, "mixedAllUser": True,
                           "streamUid": "0", "trackType": "audio_and_video"}  # fmt: skip
    assert details[4] == {"msgName": "cloud_recording_file_infos", "fileList": s.playlist}
    assert details[41] == {"msgName": "recorder_leave", "leaveCode": 16}
    assert details[11] == {"msgName": "session_exit", "exitStatus": 0}


def test_uploaded_lists_the_same_files_as_stop() -> None:
    s = SessionEvents(mp4=True)
    events = s.full()

    uploaded = notify(events)[-2]

    assert uploaded["eventType"] == 31
    stop = status.stop_response(status.fold(events))
    assert uploaded["payload"]["details"] == {
        "msgName": "uploaded", "status": 0, "fileList": stop["fileList"],
    }  # fmt: skip


def test_backuped_is_32() -> None:
    s = SessionEvents()

    notices = notify([s.started(), s.launched(), s.stopped("backuped")])

    assert types(notices) == [40, 32]
    assert notices[-1]["payload"]["details"]["msgName"] == "backuped"


def test_the_playlist_is_reported_only_on_its_first_upload() -> None:
    s = SessionEvents()
    again = [s.uploaded(s.playlist, "playlist") for _ in range(3)]

    notices = notify([s.started(), s.uploaded("x.ts", "slice"), *again])

    assert types(notices) == [4]


def test_start_repeated_reports_the_current_status() -> None:
    s = SessionEvents()

    notices = notify([s.started(), s.uploader(), s.launched(), s.repeated()])

    assert notices[-1]["payload"]["details"] == {
        "msgName": "cloud_recording_status_update", "status": 4, "recordingMode": 0,
        "fileList": s.playlist,
    }  # fmt: skip


def test_errors_and_warnings() -> None:
    s = SessionEvents()

    notices = notify([s.started(), s.launched(), s.upload_failed("a.ts"), s.error()])

    assert [n["payload"]["details"] for n in notices[1:]] == [
        {"msgName": "cloud_recording_warning", "module": 1, "warnCode": 31},
        {"msgName": "cloud_recording_error", "module": 0, "errorLevel": 5, "errorCode": 50,
         "stat": 0, "errorMsg": "boom"},
    ]  # fmt: skip


def test_failover_announces_the_new_uid_then_the_new_recorder() -> None:
    s = SessionEvents()
    before = [s.started(), s.launched(1, 1001), s.failed(1)]

    notices = notify([*before, s.launched(2, 2002), s.slice_started(generation=2)])

    assert types(notices) == [40, 12, 40, 42]
    failover = notices[1]["payload"]
    assert failover["details"] == {"msgName": "session_failover", "newUid": 2002}
    assert failover["uid"] == "2002"  # sent on behalf of the new recorder
    assert notices[2]["payload"]["uid"] == "2002"
    assert notices[3]["payload"]["sequence"] == 3


def test_zombie_generation_notifies_nothing() -> None:
    s = SessionEvents()
    state = callbacks.initial("sid1")
    for event in [s.started(), s.launched(1), s.failed(1), s.launched(2, 2002)]:
        state, _ = callbacks.apply(state, event)

    zombie = [s.stream("audio", generation=1), s.left(generation=1), s.error(generation=1)]

    assert notify(zombie, state) == []


def test_a_redelivered_event_yields_the_same_notice_id() -> None:
    s = SessionEvents()
    state, _ = callbacks.apply(callbacks.initial("sid1"), s.started())
    launched = s.launched()

    _, first = callbacks.apply(state, launched)
    _, again = callbacks.apply(state, launched)

    assert first == again
    assert len(first[0]["noticeId"]) == 32


def test_signature_matches_the_spec_test_vector() -> None:
    body = (
        b'{"eventMs":1560408533119,"eventType":10,'
        b'"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f","notifyMs":1560408533119,'
        b'"payload":{"a":"1","b":2},"productId":1}'
    )

    assert callbacks.sign(body, "secret") == {
        "Agora-Signature": "033c62f40f687675f17f0f41f91a40c71c0f134c",
        "Agora-Signature-V2": "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99",
    }


def test_backup_warning_32_and_progress_33() -> None:
    from cloudrec.events.upload import FileBackedUp, UploadProgressed

    s = SessionEvents()
    env = {"stream_id": s.sid, "at_ms": 5}
    notices = notify([s.started(), s.launched(),
                      FileBackedUp(**env, key="a.ts", kind="slice", size=3, reason="down"),
                      UploadProgressed(**env, progress=5000)])
    assert [(n["eventType"], n["payload"]["serviceType"]) for n in notices[1:]] == [
        (2, 0), (33, 2)]
    assert notices[1]["payload"]["details"] == {
        "msgName": "cloud_recording_warning", "module": 1, "warnCode": 32}
    assert notices[2]["payload"]["details"] == {"msgName": "uploading_progress", "progress": 5000}


def test_corrupt_media_is_one_recorder_warning_naming_the_user() -> None:
    s = SessionEvents()
    corrupted = MediaCorrupted(stream_id=s.sid, at_ms=T0 + 5000, generation=1, uid=7,
                               track="video", packets=42, first_ms=T0 + 1000,
                               last_ms=T0 + 3000, problems=["backwards", "undecodable"])

    notices = notify([s.started(), s.launched(), corrupted])

    assert types(notices) == [40, 2]
    assert notices[-1]["payload"]["details"] == {
        "msgName": "cloud_recording_warning", "module": 0, "warnCode": 101, "streamUid": "7",
        "trackType": "video", "packets": 42, "startUtcMs": T0 + 1000, "endUtcMs": T0 + 3000,
        "problems": ["backwards", "undecodable"],
    }  # fmt: skip


def test_media_that_could_not_be_decrypted_has_a_warning_code_of_its_own() -> None:
    s = SessionEvents()
    undecryptable = MediaCorrupted(stream_id=s.sid, at_ms=T0 + 5000, generation=1, uid=7,
                                   track="audio", packets=50, first_ms=T0 + 1000,
                                   last_ms=T0 + 3000, problems=["undecryptable"])

    [*_, warning] = notify([s.started(), s.launched(), undecryptable])

    details = warning["payload"]["details"]
    assert (warning["eventType"], details["warnCode"], details["streamUid"]) == (2, 103, "7")
    assert details["problems"] == ["undecryptable"]


def test_a_track_not_recorded_is_one_recorder_warning_naming_user_and_codec() -> None:
    s = SessionEvents()
    left_out = TrackNotRecorded(stream_id=s.sid, at_ms=T0 + 5000, generation=1, uid=7,
                                track="video", codec="av1")

    notices = notify([s.started(), s.launched(), left_out])

    assert types(notices) == [40, 2]
    assert notices[-1]["payload"]["details"] == {
        "msgName": "cloud_recording_warning", "module": 0, "warnCode": 102, "streamUid": "7",
        "trackType": "video", "codec": "av1"}


def test_a_layout_image_not_used_is_one_recorder_warning_naming_url_and_reason() -> None:
    s = SessionEvents()
    failed = LayoutImageFailed(stream_id=s.sid, at_ms=T0 + 5000, generation=1,
                               url="https://images.example/a.jpg", reason="HTTP 404")

    notices = notify([s.started(), s.launched(), failed])

    assert types(notices) == [40, 2]
    assert notices[-1]["payload"]["details"] == {
        "msgName": "cloud_recording_warning", "module": 0, "warnCode": 104,
        "imageUrl": "https://images.example/a.jpg", "reason": "HTTP 404"}
