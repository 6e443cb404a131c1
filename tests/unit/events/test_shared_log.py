"""A process opens one client per log, whatever number of actors or sessions it serves."""

from __future__ import annotations

import threading
from pathlib import Path

from cloudrec.events.backends import shared_event_log

from .contract import slice_event


def test_every_user_in_a_process_gets_the_same_client(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(shared_event_log(url)))
               for _ in range(8)]  # actors starting at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(log) for log in got}) == 1
    other = shared_event_log(f"sqlite:///{tmp_path}/other.db")
    assert other is not got[0]
    shared_event_log(url).append([slice_event("a", 0)])
    assert [e.version for e in other.read_stream("a")] == []
    assert [e.version for e in shared_event_log(url).read_stream("a")] == [1]
