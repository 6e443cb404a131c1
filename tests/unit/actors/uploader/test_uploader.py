"""The uploader core with a scripted store: retries, backup in an outage and the push back, fail
fast on a store that refuses, nothing deleted before a store confirmed it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudrec.actors.uploader.storage import FileStorage, StorageRejected, StorageUnavailable
from cloudrec.actors.uploader.uploader import Uploader, UploadJob, uploading_status
from cloudrec.events.memory import MemoryEventLog


class ScriptedStore(FileStorage):
    """A directory store that can be taken down (unavailable) or made to refuse."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.down = False
        self.refuse = ""
        self.calls = 0

    def put(self, key: str, path: Path, md5: str = "") -> int:
        self.calls += 1
        if self.refuse:
            raise StorageRejected(self.refuse)
        if self.down:
            raise StorageUnavailable("connection refused")
        return super().put(key, path, md5)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Uploader, ScriptedStore, FileStorage, MemoryEventLog, Path]:
    store, backup = ScriptedStore(tmp_path / "bucket"), FileStorage(tmp_path / "backup")
    log = MemoryEventLog()
    uploader = Uploader(store, log, lambda: 1, backup, attempts=3, sleep=lambda s: None)
    return uploader, store, backup, log, tmp_path / "work"


def job(work: Path, key: str, kind: str = "slice", data: bytes = b"x" * 10) -> UploadJob:
    path = work / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return UploadJob("s1", 1, key, path, kind)  # type: ignore[arg-type]


def types(log: MemoryEventLog) -> list[str]:
    return [type(e).__name__ for e in log.read_stream("s1")]


def test_a_confirmed_file_is_deleted_locally_the_playlist_kept(setup) -> None:  # type: ignore[no-untyped-def]
    uploader, store, _, log, work = setup
    assert uploader.upload(job(work, "p/a.ts")) == "uploaded"
    assert uploader.upload(job(work, "p/a.m3u8", "playlist")) == "uploaded"
    assert not (work / "p/a.ts").exists() and (work / "p/a.m3u8").exists()
    assert (store.root / "p/a.ts").read_bytes() == b"x" * 10
    assert types(log) == ["FileUploaded", "FileUploaded"]


def test_a_passing_failure_is_retried(setup) -> None:  # type: ignore[no-untyped-def]
    uploader, store, _, log, work = setup
    first = store.put
    calls = iter([StorageUnavailable("reset"), None])

    def flaky(key: str, path: Path, md5: str = "") -> int:
        error = next(calls)
        if error:
            raise error
        return first(key, path, md5)

    store.put = flaky  # type: ignore[method-assign]
    assert uploader.upload(job(work, "a.ts")) == "uploaded"
    assert types(log) == ["UploadFailed", "FileUploaded"]


def test_an_outage_backs_files_up_in_order_and_pushes_them_back(setup) -> None:  # type: ignore[no-untyped-def]
    uploader, store, backup, log, work = setup
    store.down = True
    outcomes = [uploader.upload(job(work, "a.ts")),
                uploader.upload(job(work, "s.m3u8", "playlist")),
                uploader.upload(job(work, "b.ts")),
                uploader.upload(job(work, "s.m3u8", "playlist", b"final"))]
    assert outcomes == ["backuped"] * 4
    assert types(log) == ["UploadFailed"] * 3 + ["FileBackedUp"] * 4  # retried once, then backlog
    assert list(uploader.backlog) == ["a.ts", "b.ts", "s.m3u8"]  # the playlist last
    assert not (work / "a.ts").exists() and (backup.root / "a.ts").exists()
    assert uploader.drain() is False  # still down
    store.down = False
    assert uploader.drain() is True and not uploader.backlog
    assert (store.root / "s.m3u8").read_bytes() == b"final"
    assert not (backup.root / "a.ts").exists()
    restored = [e for e in log.read_stream("s1") if type(e).__name__ == "FileUploaded"]
    assert [e.key for e in restored] == ["a.ts", "b.ts", "s.m3u8"]  # type: ignore[attr-defined]
    assert all(e.restored for e in restored)  # type: ignore[attr-defined]
    assert uploader.progress("s1") == 10000


def test_a_restarted_uploader_replays_its_backlog(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uploader, store, backup, log, work = setup
    store.down = True
    for key, kind in (("a.ts", "slice"), ("s.m3u8", "playlist"), ("b.ts", "slice")):
        uploader.upload(job(work, key, kind))
    store.down = False
    again = Uploader(store, log, lambda: 1, backup, attempts=3, sleep=lambda s: None)
    again.replay(log.read_stream("s1"))
    assert list(again.backlog) == ["a.ts", "s.m3u8", "b.ts"]
    assert again.drain() and (store.root / "b.ts").exists()
    pushed = [e.key for e in log.read_stream("s1") if type(e).__name__ == "FileUploaded"]
    assert pushed == ["a.ts", "b.ts", "s.m3u8"]  # the playlist after the slices it lists
    fresh = Uploader(store, log, lambda: 1, backup)
    fresh.replay(log.read_stream("s1"))
    assert not fresh.backlog and fresh.progress("s1") == 10000


def test_a_refusing_store_fails_fast_and_keeps_files_locally(setup) -> None:  # type: ignore[no-untyped-def]
    uploader, store, backup, log, work = setup
    store.refuse = "NoSuchBucket: gone"
    assert uploader.upload(job(work, "a.ts")) == "failed"
    assert uploader.upload(job(work, "b.ts")) == "failed"
    assert store.calls == 1  # never retried
    assert (work / "a.ts").exists() and not backup.root.exists()  # no silent fallback
    failed = log.read_stream("s1")[-1]
    assert (failed.module, failed.error_code) == (1, 32)  # type: ignore[attr-defined]
    assert "NoSuchBucket" in failed.message  # type: ignore[attr-defined]
    assert types(log) == ["RecordingFailed"]


def test_announce_reports_a_store_refusing_at_start(setup) -> None:  # type: ignore[no-untyped-def]
    uploader, store, _, log, _ = setup

    def refuse() -> None:
        raise StorageRejected("bucket 'x' does not exist (NoSuchBucket)")

    store.check = refuse  # type: ignore[method-assign]
    assert "NoSuchBucket" in uploader.announce("s1", 1)
    assert types(log) == ["UploaderStarted", "RecordingFailed"]


def test_uploading_status_of_a_stop() -> None:
    assert uploading_status(["uploaded", "uploaded"]) == "uploaded"
    assert uploading_status([]) == "uploaded"
    assert uploading_status(["uploaded", "backuped"]) == "backuped"
    assert uploading_status(["backuped", "failed"]) == "unknown"


def test_a_fenced_generations_playlist_is_refused_its_finished_slices_are_not(setup) -> None:  # type: ignore[no-untyped-def]
    """After a failover to generation 2: a zombie's rewritten playlist must not replace the
    one generation 2 continues; a slice generation 1 finished before it died still goes up,
    and its event carries generation 2 so the log (fenced at 2) takes it."""
    uploader, store, _, log, work = setup
    uploader.fence_below(2)
    stale = job(work, "p/a.m3u8", "playlist", b"#EXTM3U zombie")
    assert uploader.upload(stale) == "failed" and not (store.root / "p/a.m3u8").exists()
    assert uploader.upload(job(work, "p/a_1.ts")) == "uploaded"
    assert [e.generation for e in log.read_stream("s1")] == [2]


def test_a_file_handed_again_is_not_sent_twice(setup) -> None:  # type: ignore[no-untyped-def]
    uploader, store, _, log, work = setup
    assert uploader.upload(job(work, "p/a.ts")) == "uploaded"
    assert uploader.upload(job(work, "p/a.ts")) == "uploaded"  # the local copy is gone
    assert store.calls == 1 and types(log) == ["FileUploaded"]
