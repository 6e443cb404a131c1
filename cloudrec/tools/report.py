"""What a tool tells its user while it runs: progress on stderr and a log file."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

STEP = 5  # percent between progress lines


class Progress:
    """Percent of the input seconds processed, one stderr line every `STEP` percent."""

    def __init__(self, label: str, total: float, out: TextIO | None = None) -> None:
        self._label = label
        self._total = max(total, 1e-9)
        self._done = 0.0
        self._shown = -STEP
        self._out = out if out is not None else sys.stderr

    def advance(self, seconds: float) -> None:
        self._done = min(self._done + seconds, self._total)
        percent = int(round(100 * self._done / self._total, 6))
        if percent >= self._shown + STEP or (percent == 100 and self._shown < 100):
            self._shown = percent
            print(f"{self._label}: {percent:3d}% ({self._done:.1f} of {self._total:.1f} s "
                  "of input)", file=self._out, flush=True)


class RunLog:
    """`convert.log`: one timestamped line per step, appended across runs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        with self.path.open("a") as log:
            log.write(f"{stamp} {message}\n")


def complain(tool: str, message: str) -> None:
    """An error for the user: one `cloudrec <tool>: error: ...` message on stderr, no traceback."""
    sys.stderr.write(f"cloudrec {tool}: error: {message}\n")
