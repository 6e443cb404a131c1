"""Executable documentation (style rule 25): every notebook runs against a hand-built event log,
and notebooks import only from `cloudrec` (plus the stdlib `os`/`json`)."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from cloudrec.events.embedded import EmbeddedEventLog
from cloudrec.events.envelope import Event
from cloudrec.events.recording import (
    RecorderLaunched,
    RecorderLeft,
    RecordingStarted,
    RecordingStopped,
    SessionExited,
    StopRequested,
)
from cloudrec.events.segment import (
    PlaylistWritten,
    SliceStarted,
    SliceWritten,
    StreamStateChanged,
)
from cloudrec.events.upload import FileUploaded, UploaderStarted

NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"
ALLOWED_IMPORTS = {"cloudrec", "os", "json"}
KERNEL = "cloudrec-notebook-test"
T0 = 1_619_172_632_000
CNAME = "room42"


def session(sid: str, start: int) -> list[Event]:
    """One composite session in the spec's §15.5 order, 100 ms between events."""
    clock = iter(range(start + 100, start + 100_000, 100))
    playlist = f"rec/{CNAME}/{sid}_{CNAME}.m3u8"
    slices = [f"rec/{CNAME}/{sid}_{CNAME}_{i}.ts" for i in range(2)]

    def env(generation: int = 0) -> dict[str, object]:
        return {"stream_id": sid, "at_ms": next(clock), "generation": generation}

    return [
        RecordingStarted(
            **env(), appid="app1", cname=CNAME, uid="1001", resource_id="res1", mode="mix",
            config={}, av_file_types=["hls"], file_prefix=["rec", CNAME], playlist=playlist,
        ),
        UploaderStarted(**env(), storage="file:///data/recordings"),
        RecorderLaunched(**env(1), recorder_uid=1001, node_id="node-a"),
        StreamStateChanged(**env(1), track="audio", stream_uid="0", state=0, utc_ms=start + 400),
        StreamStateChanged(**env(1), track="video", stream_uid="0", state=0, utc_ms=start + 500),
        SliceStarted(**env(1), start_ms=start + 600, discontinue_ms=start + 600),
        SliceWritten(**env(1), key=slices[0], index=0, start_ms=start + 600, duration_s=15.0,
                     size=181_000),
        PlaylistWritten(**env(1), key=playlist, segments=1),
        FileUploaded(**env(), key=slices[0], kind="slice", size=181_000),
        FileUploaded(**env(), key=playlist, kind="playlist", size=200),
        SliceWritten(**env(1), key=slices[1], index=1, start_ms=start + 15_600, duration_s=4.48,
                     size=54_000),
        StopRequested(**env(), reason="api"),
        RecorderLeft(**env(1), leave_code=16),
        PlaylistWritten(**env(1), key=playlist, segments=2, ended=True),
        FileUploaded(**env(), key=slices[1], kind="slice", size=54_000),
        FileUploaded(**env(), key=playlist, kind="playlist", size=260),
        RecordingStopped(**env(), uploading_status="uploaded"),
        SessionExited(**env(), exit_status=0),
    ]  # fmt: skip


@pytest.fixture
def event_log(tmp_path: Path) -> str:
    """An embedded log with two sessions: `sid-old`, then `sid-new` (the latest)."""
    path = tmp_path / "events.db"
    log = EmbeddedEventLog(path)
    for sid, start in (("sid-old", T0), ("sid-new", T0 + 3_600_000)):
        for event in session(sid, start):
            log.append([event])
    log.close()
    return f"sqlite:///{path}"


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec in tmp that runs this interpreter, so the kernel sees the same venv."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    body = {"argv": argv, "display_name": "cloudrec test", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(body))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return KERNEL


def execute(name: str, kernel: str, cwd: Path) -> list[str]:
    """Run a notebook; return each code cell's stdout/result text (errors fail the test)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name=kernel, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return [_text(cell) for cell in nb.cells if cell.cell_type == "code"]


def _text(cell: nbformat.NotebookNode) -> str:
    parts = [out.get("text", "") for out in cell.outputs if out.output_type == "stream"]
    parts += [
        out.get("data", {}).get("text/plain", "")
        for out in cell.outputs
        if out.output_type == "execute_result"
    ]
    return "".join(parts)


def in_order(text: str, needles: list[str]) -> bool:
    position = 0
    for needle in needles:
        position = text.find(needle, position)
        if position < 0:
            return False
        position += len(needle)
    return True


def test_inspect_session_shows_the_latest_session(
    event_log: str, kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDREC_EVENTS", event_log)
    monkeypatch.delenv("CLOUDREC_SID", raising=False)

    out = "\n".join(execute("inspect_session.ipynb", kernel, tmp_path))

    assert "36 events, 2 sessions" in out
    assert in_order(out, ["sid-old", "sid-new", "session sid-new: 18 events"])
    assert "session sid-old" not in out
    assert in_order(out, ["RecordingStarted", "RecorderLaunched", "StreamStateChanged",
                          "SliceWritten", "SessionExited"])  # fmt: skip
    assert "status 8 (stopped=True, ended=True, uploading=uploaded" in out
    assert '"fileList": "rec/room42/sid-new_room42.m3u8"' in out
    assert in_order(out, ["30  uploader_started", "40  recorder_started",
                          "43  recorder_audio_stream_state_changed",
                          "44  recorder_video_stream_state_changed",
                          "42  recorder_slice_start", "4  cloud_recording_file_infos",
                          "41  recorder_leave", "31  uploaded", "11  session_exit"])  # fmt: skip
    assert out.count("cloud_recording_file_infos") == 1  # the playlist is reported once
    slices = [line.split() for line in out.splitlines() if line.endswith(".ts")]
    assert [row[:4] for row in slices] == [
        ["0", str(T0 + 3_600_600), "0.000", "15.000"],
        ["1", str(T0 + 3_615_600), "15.000", "4.480"],
    ]


def test_inspect_session_picks_the_session_named_by_env(
    event_log: str, kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDREC_EVENTS", event_log)
    monkeypatch.setenv("CLOUDREC_SID", "sid-old")

    out = "\n".join(execute("inspect_session.ipynb", kernel, tmp_path))

    assert "session sid-old: 18 events" in out
    assert "rec/room42/sid-old_room42_1.ts" in out
    assert "rec/room42/sid-new_room42_1.ts" not in out


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add("." if node.level else (node.module or "").split(".")[0])
    return roots


def defined_names(source: str) -> list[str]:
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    return [type(node).__name__ for node in ast.walk(ast.parse(source)) if isinstance(node, kinds)]


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_imports_only_cloudrec_and_defines_nothing(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]

    for source in code:
        assert imported_roots(source) <= ALLOWED_IMPORTS, source
        assert not defined_names(source), source


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_is_committed_with_outputs_cleared(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]

    assert code, "a notebook without code is not executable documentation"
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


def test_there_is_a_notebook() -> None:
    assert any(path.name == "inspect_session.ipynb" for path in notebooks())
