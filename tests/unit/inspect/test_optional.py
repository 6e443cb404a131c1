"""pandas and matplotlib are the `notebooks` extra: the service never imports them."""

from __future__ import annotations

import subprocess
import sys

CORE = ["cloudrec.service", "cloudrec.server", "cloudrec.runtime", "cloudrec.cli",
        "cloudrec.actors.recorder.actor", "cloudrec.actors.session.actor",
        "cloudrec.actors.channel.actor", "cloudrec.actors.uploader.actor",
        "cloudrec.projections.runner"]


def test_the_service_imports_neither_pandas_nor_matplotlib() -> None:
    probe = (f"import sys\nfor name in {CORE!r}: __import__(name)\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'matplotlib'}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"
