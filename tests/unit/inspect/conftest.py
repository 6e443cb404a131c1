"""One recorded event log (real media, no Ray) shared by the inspection tests of a run."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

from .recorded import Recorded, record

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("recorded"))


@pytest.fixture(scope="session")
def storage(recorded: Recorded) -> Path:
    return recorded.storage
