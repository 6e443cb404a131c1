"""Individual mode in the projections: `query`'s json fileList (§8) and callbacks 42/31 (§15.4)."""

from __future__ import annotations

from cloudrec.events.recording import RecordingStarted, RecordingStopped
from cloudrec.events.segment import SliceStarted, TrackPlaylistStarted
from cloudrec.projections import callbacks, status

SID, T0 = "sid1", 1_619_172_632_000


def _events() -> list:  # type: ignore[type-arg]
    def track(uid: str, kind: str, at: int) -> list:  # type: ignore[type-arg]
        key = f"rec/{SID}_room__uid_s_{uid}__uid_e_{kind}.m3u8"
        return [TrackPlaylistStarted(stream_id=SID, at_ms=at, key=key, stream_uid=uid,
                                     track=kind, start_ms=at),  # type: ignore[arg-type]
                SliceStarted(stream_id=SID, at_ms=at, start_ms=at, discontinue_ms=at,
                             track_type=kind, stream_uid=uid)]  # type: ignore[arg-type]

    started = RecordingStarted(stream_id=SID, at_ms=T0, appid="a", cname="room", uid="9",
                               resource_id="r", mode="individual", config={},
                               av_file_types=["hls"], file_prefix=["rec"],
                               playlist=f"rec/{SID}_room.m3u8")
    return [started, *track("1001", "audio", T0 + 10), *track("1001", "video", T0 + 20),
            *track("1002", "audio", T0 + 30), *track("1001", "audio", T0 + 40)]


def test_query_lists_one_json_entry_per_track_playlist() -> None:
    answer = status.server_response(status.fold(_events()))
    assert answer["fileListMode"] == "json"
    assert answer["sliceStartTime"] == T0 + 10
    assert answer["fileList"] == [
        {"fileName": f"rec/{SID}_room__uid_s_1001__uid_e_audio.m3u8", "trackType": "audio",
         "uid": "1001", "mixedAllUser": False, "isPlayable": True, "sliceStartTime": T0 + 10},
        {"fileName": f"rec/{SID}_room__uid_s_1001__uid_e_video.m3u8", "trackType": "video",
         "uid": "1001", "mixedAllUser": False, "isPlayable": False, "sliceStartTime": T0 + 20},
        {"fileName": f"rec/{SID}_room__uid_s_1002__uid_e_audio.m3u8", "trackType": "audio",
         "uid": "1002", "mixedAllUser": False, "isPlayable": True, "sliceStartTime": T0 + 30},
    ]


def test_slice_start_is_per_stream_and_not_the_mix() -> None:
    sent = callbacks.notifications(_events(), SID)
    details = [n["payload"]["details"] for n in sent if n["eventType"] == 42]
    assert [(d["streamUid"], d["trackType"], d["mixedAllUser"]) for d in details[:3]] == [
        ("1001", "audio", False), ("1001", "video", False), ("1002", "audio", False)]


def test_uploaded_lists_the_track_playlists() -> None:
    stopped = RecordingStopped(stream_id=SID, at_ms=T0 + 99, uploading_status="uploaded")
    sent = callbacks.notifications([*_events(), stopped], SID)
    uploaded = next(n for n in sent if n["eventType"] == 31)["payload"]["details"]
    assert [e["uid"] for e in uploaded["fileList"]] == ["1001", "1001", "1002"]
