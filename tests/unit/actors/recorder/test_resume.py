"""What generation n+1 continues from: leftovers settled from real files, the continued
playlist, where it starts rendering, and closing a recording without a recorder."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

from cloudrec.actors.recorder import resume
from cloudrec.actors.recorder.naming import file_name
from cloudrec.actors.recorder.playlist import Playlist, segment_uri
from cloudrec.events.recording import RecorderLaunched
from cloudrec.events.segment import FileDropped, FileSalvaged
from cloudrec.projections import recovery

from ...api.names import LEGAL_CNAMES
from ...projections.session import T0, SessionEvents
from .test_salvage import write_ts


def session_with_a_cut_slice(tmp_path: Path, cname: str = "room42",
                             ) -> tuple[SessionEvents, recovery.RecoveryView, Path]:
    """Generation 1 finished slices 0 and 1, then died while writing slice 2 (and an MP4)."""
    s = SessionEvents(cname=cname)
    s.clock = T0 - 100  # `start` accepted at T0: the recording's clock origin
    events = [s.started(),
              RecorderLaunched(stream_id=s.sid, at_ms=T0, generation=1, recorder_uid=9),
              s.slice(0), s.slice(1), s.playlist_written(), s.uploaded(s.slice(0).key, "slice"),
              s.failed(1)]
    session_dir = tmp_path / s.sid
    g1 = resume.generation_dir(session_dir, 1)
    whole = write_ts(tmp_path / "whole.ts")
    cut = g1 / f"rec/{s.cname}/{s.sid}_{s.cname}_2.ts"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])
    (g1 / f"rec/{s.cname}/{s.sid}_{s.cname}_0.mp4").write_bytes(b"\0" * 5000)
    shutil.copy(whole, g1 / s.slice(1).key)  # finished, never confirmed by storage
    return s, recovery.fold(events), session_dir


def test_leftovers_are_salvaged_or_dropped_and_say_so(tmp_path: Path) -> None:
    s, view, session_dir = session_with_a_cut_slice(tmp_path)
    left = resume.leftovers(view, session_dir, 2)
    assert sorted(item.key.rsplit("_", 1)[-1] for item in left) == ["0.mp4", "2.ts"]
    after, settled, _ = resume.take_over(view, session_dir, 2, s.sid, T0 + 40_000)
    salvaged = next(e for e in settled if isinstance(e, FileSalvaged))
    dropped = next(e for e in settled if isinstance(e, FileDropped))
    assert (salvaged.generation, salvaged.from_generation, salvaged.index) == (2, 1, 2)
    assert 1.0 < salvaged.duration_s < 4.0  # TS time 10 s is the start (AAC priming before)
    assert abs(salvaged.start_ms - T0) <= 25
    assert dropped.kind == "mp4" and "index" in dropped.reason
    with av.open(str(left[-1].path if left[-1].key.endswith(".ts") else left[0].path)) as ts:
        assert sum(1 for _ in ts.decode(video=0)) > 15  # what was written, decodable
    assert resume.leftovers(after, session_dir, 3) == []  # settled once, not again
    assert [seg.generation for seg in after.segments] == [1, 1, 1]  # the cut comes after it


def test_generation_two_continues_the_playlist_from_the_last_good_slice(tmp_path: Path) -> None:
    s, view, session_dir = session_with_a_cut_slice(tmp_path)
    now = T0 + 31_000
    plan = resume.plan(view, now, history_ms=20_000)
    assert plan.origin_ms == T0 and plan.t0_ms == T0 + 30_000 == plan.discontinue_ms
    playlist = Playlist.parse(plan.playlist or "")
    assert [seg.name for seg in playlist.segments] == [
        f"{s.sid}_{s.cname}_0.ts", f"{s.sid}_{s.cname}_1.ts"]
    assert "EVENT=START,TRACK_TYPE=VIDEO" in " ".join(playlist.segments[0].tags)
    late = resume.plan(view, T0 + 60_000, history_ms=20_000)  # history no longer reaches back
    assert late.t0_ms == T0 + 41_000 and late.discontinue_ms == T0 + 30_000


def test_a_recording_is_closed_without_a_recorder(tmp_path: Path) -> None:
    s, view, session_dir = session_with_a_cut_slice(tmp_path)
    events, jobs = resume.closing(view, session_dir, 2, s.sid, T0 + 40_000)
    kinds = {job.key.rsplit("_", 1)[-1]: job.kind for job in jobs}
    assert kinds == {"1.ts": "slice", "2.ts": "slice", f"{s.cname}.m3u8": "playlist"}
    text = next(j for j in jobs if j.kind == "playlist").path.read_text()
    assert text.rstrip().endswith("#EXT-X-ENDLIST") and f"{s.sid}_{s.cname}_2.ts" in text
    assert type(events[-1]).__name__ == "PlaylistWritten" and events[-1].ended  # type: ignore[attr-defined]


@pytest.mark.parametrize("cname", LEGAL_CNAMES)
def test_any_legal_channel_name_is_continued_and_closed_as_uris(tmp_path: Path,
                                                                cname: str) -> None:
    s, view, session_dir = session_with_a_cut_slice(tmp_path, cname)
    names = [file_name(s.slice(i).key) for i in range(3)]
    plan = resume.plan(view, T0 + 31_000, history_ms=20_000)
    assert [seg.name for seg in Playlist.parse(plan.playlist or "").segments] == names[:2]
    events, jobs = resume.closing(view, session_dir, 2, s.sid, T0 + 40_000)
    text = next(j for j in jobs if j.kind == "playlist").path.read_text()
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        segment_uri(name) for name in names]
    slices = {file_name(job.key) for job in jobs if job.kind == "slice"}
    assert [seg.name for seg in Playlist.parse(text).segments][1:] == sorted(slices)
