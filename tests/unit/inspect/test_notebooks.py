"""The notebooks, executed (nbclient) against the recorded log; their figures are read back.

A probe cell appended to each run (never to the committed notebook) describes every Figure the
notebook left in its namespace: axes titles, tick labels, series labels, line data, and the
colour at the centre of each outlined region of a frame.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from .recorded import BLUE, MIX_SID, RED, SOLO_SID, Recorded

NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"
KERNEL = "cloudrec-inspect-test"
PROBE = '''
import json as _json
import numbers as _numbers
from matplotlib.figure import Figure as _Figure
from matplotlib.image import AxesImage as _Image
from matplotlib.patches import Rectangle as _Rect
_found = {}
for _name, _fig in list(globals().items()):
    if not isinstance(_fig, _Figure):
        continue
    _axes = []
    for _ax in _fig.axes:
        _images = [c for c in _ax.get_children() if isinstance(c, _Image)]
        _regions = []
        for _p in _ax.patches:
            if _images and isinstance(_p, _Rect) and _p.get_label().startswith("uid"):
                _a = _images[0].get_array()
                _y = int(_p.get_y() + _p.get_height() / 2)
                _x = int(_p.get_x() + _p.get_width() * 0.7)
                _regions.append([_p.get_label(), [int(v) for v in _a[_y, _x][:3]]])
        _axes.append({
            "title": _ax.get_title(),
            "yticks": [t.get_text() for t in _ax.get_yticklabels()],
            "labels": sorted({str(c.get_label()) for c in _ax.get_children()
                              if not str(c.get_label()).startswith("_")}),
            "lines": {str(l.get_label()): [float(v) if isinstance(v, _numbers.Real) else str(v)
                                           for v in l.get_xdata()] for l in _ax.get_lines()},
            "images": len(_images), "regions": _regions,
            "texts": [t.get_text() for t in _ax.texts],
        })
    _found[_name] = _axes
print("PROBE" + _json.dumps(_found))
'''


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kernelspec that runs this interpreter, so the kernel sees the same venv."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    body = {"argv": argv, "display_name": "cloudrec test", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(body))
    return root


class Run:
    def __init__(self, nb: nbformat.NotebookNode) -> None:
        self.cells = [c for c in nb.cells if c.cell_type == "code"]
        self.text = "\n".join(_text(c) for c in self.cells)
        probe = self.text[self.text.rindex("PROBE") + 5 :].splitlines()[0]
        self.figures: dict[str, list[dict]] = json.loads(probe)

    def cell_with(self, source: str) -> nbformat.NotebookNode:
        return next(c for c in self.cells if source in c.source)


def execute(name: str, kernel: Path, recorded: Recorded, monkeypatch: pytest.MonkeyPatch,
            sid: str | None = None) -> Run:
    monkeypatch.setenv("JUPYTER_PATH", str(kernel))
    monkeypatch.setenv("CLOUDREC_EVENTS", recorded.url)
    monkeypatch.setenv("CLOUDREC_STORAGE", str(recorded.storage))
    monkeypatch.setenv("CLOUDREC_SID", sid or "")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    NotebookClient(nb, timeout=120, kernel_name=KERNEL,
                   resources={"metadata": {"path": str(recorded.storage.parent)}}).execute()
    return Run(nb)


def _text(cell: nbformat.NotebookNode) -> str:
    parts = [out.get("text", "") for out in cell.outputs if out.output_type == "stream"]
    parts += [out.get("data", {}).get("text/plain", "") for out in cell.outputs
              if out.output_type == "execute_result"]
    return "".join(parts)


def pictured(cell: nbformat.NotebookNode) -> bool:
    return any("image/png" in out.get("data", {}) for out in cell.outputs)


def html(cell: nbformat.NotebookNode) -> str:
    return "".join(out.get("data", {}).get("text/html", "") for out in cell.outputs)


def near(colour: list[int], expected: tuple[int, int, int]) -> bool:
    return bool(np.all(np.abs(np.array(colour) - expected) < 40))


def test_inspect_session_on_a_composite_recording(kernel, recorded, monkeypatch) -> None:
    run = execute("inspect_session.ipynb", kernel, recorded, monkeypatch, sid=MIX_SID)

    assert MIX_SID in html(run.cell_with("session = log.session")) and "room42" in run.text
    assert "halfway: {'status': 5" in run.text and "at the end: {'status': 8" in run.text
    (timeline,) = run.figures["timeline_fig"]
    assert timeline["yticks"][-3:] == ["slices g1", "slices g2", "uploads"]
    assert {"uid 1 video", "uid 2 audio", "layout → float", "gap", "failover g1"} <= set(
        timeline["labels"])
    regions = [r for ax in run.figures["sheet_fig"] for r in ax["regions"]]
    assert all(near(c, RED) for uid, c in regions if uid == "uid 1")
    assert all(near(c, BLUE) for uid, c in regions if uid == "uid 2")
    assert {uid for uid, _ in regions} == {"uid 1", "uid 2"}
    titles = [ax["title"] for ax in run.figures["latency_fig"]]
    assert titles[0].startswith("upload latency (s): n=") and "slice lateness" in titles[1]
    for source in ("plots.timeline", "plots.contact_sheet", "plots.latencies"):
        assert pictured(run.cell_with(source)), source
    assert "session_exit" in html(run.cell_with("session.callbacks()"))


def test_inspect_session_on_an_individual_recording(kernel, recorded, monkeypatch) -> None:
    run = execute("inspect_session.ipynb", kernel, recorded, monkeypatch, sid=SOLO_SID)

    (levels,) = run.figures["levels_fig"]
    assert set(levels["lines"]) == {"uid 1", "uid 2"}
    assert min(levels["lines"]["uid 2"]) >= 1.0  # user 2 published from 1 s on
    assert "sheet_fig" not in run.figures


def test_fleet(kernel, recorded, monkeypatch) -> None:
    run = execute("fleet.ipynb", kernel, recorded, monkeypatch)

    (states,) = run.figures["states_fig"]
    assert set(states["lines"]) == {"recording", "stopping", "ended"}
    (channels,) = run.figures["channels_fig"]
    assert channels["yticks"] == ["room42", "solo"]
    assert run.figures["problems_fig"][0]["title"].endswith(": none")
    assert "room42" in html(run.cell_with("fleet.failovers"))
    for name in ("states_fig", "channels_fig", "lag_fig", "latency_fig"):
        assert name in run.figures


def test_failover(kernel, recorded, monkeypatch) -> None:
    run = execute("failover.ipynb", kernel, recorded, monkeypatch)

    assert "generation 1 → 2 (actor died)" in run.text
    assert "to +3.500 s: 0.9" in run.text  # the cut: ~1 s without media
    assert "node-2" in html(run.cell_with("session.recorders()"))
    assert "gap" in run.figures["timeline_fig"][0]["labels"]
    sheet = run.figures["sheet_fig"]
    assert any("gap: nothing recorded" in ax["texts"] for ax in sheet)
    assert sum(ax["images"] for ax in sheet) >= 8
