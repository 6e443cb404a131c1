"""`make notebooks`: execute every notebook and write rendered copies to build/notebooks/.

Against the log and storage named by CLOUDREC_EVENTS / CLOUDREC_STORAGE when set; otherwise
against the small recorded session the tests make (tests/unit/inspect/recorded.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "notebooks"


def recorded_session() -> None:
    sys.path.insert(0, str(ROOT / "tests" / "unit" / "inspect"))
    from recorded import MIX_SID, record

    made = record(OUT / "session")
    os.environ.update(CLOUDREC_EVENTS=made.url, CLOUDREC_STORAGE=str(made.storage),
                      CLOUDREC_SID=os.environ.get("CLOUDREC_SID", MIX_SID))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if "CLOUDREC_EVENTS" not in os.environ:
        recorded_session()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(ROOT)}}).execute()
        nbformat.write(nb, OUT / path.name)
        print(f"{OUT / path.name}")


if __name__ == "__main__":
    main()
