"""Hand-built events of one composite session, for the projection tests."""

from __future__ import annotations

from cloudrec.events.envelope import Event
from cloudrec.events.layout import Layout, LayoutUpdated
from cloudrec.events.recording import (
    RecorderFailed,
    RecorderLaunched,
    RecorderLeft,
    RecordingFailed,
    RecordingStarted,
    RecordingStopped,
    SessionExited,
    StartRepeated,
    StopRequested,
)
from cloudrec.events.segment import (
    Mp4Written,
    PlaylistWritten,
    SliceStarted,
    SliceWritten,
    StreamStateChanged,
)
from cloudrec.events.upload import FileUploaded, UploaderStarted, UploadFailed

T0 = 1_619_172_632_000


class SessionEvents:
    """Each method returns one event of session `sid`, 100 ms after the previous one."""

    def __init__(self, sid: str = "sid1", cname: str = "room42", mp4: bool = False) -> None:
        self.sid, self.cname, self.mp4 = sid, cname, mp4
        self.clock = T0
        self.playlist = f"rec/{cname}/{sid}_{cname}.m3u8"

    def _at(self) -> int:
        self.clock += 100
        return self.clock

    def _env(self, generation: int = 0) -> dict[str, object]:
        return {"stream_id": self.sid, "at_ms": self._at(), "generation": generation}

    def started(self, config: dict[str, object] | None = None) -> RecordingStarted:
        return RecordingStarted(
            **self._env(), appid="app1", cname=self.cname, uid="1001", resource_id="res1",
            mode="mix", config=config or {},
            av_file_types=["hls", "mp4"] if self.mp4 else ["hls"],
            file_prefix=["rec", self.cname], playlist=self.playlist,
        )  # fmt: skip

    def repeated(self) -> StartRepeated:
        return StartRepeated(**self._env())

    def launched(self, generation: int = 1, uid: int = 1001) -> RecorderLaunched:
        return RecorderLaunched(**self._env(generation), recorder_uid=uid)

    def failed(self, generation: int = 1) -> RecorderFailed:
        return RecorderFailed(**self._env(), failed_generation=generation, reason="killed")

    def uploader(self) -> UploaderStarted:
        return UploaderStarted(**self._env(), storage="file:///data")

    def stream(self, track: str, state: int = 0, generation: int = 1,
               uid: str = "0") -> StreamStateChanged:
        env = self._env(generation)
        return StreamStateChanged(
            **env, track=track, stream_uid=uid, state=state, utc_ms=env["at_ms"]
        )

    def slice_started(self, generation: int = 1, discontinue_ms: int | None = None) -> Event:
        env = self._env(generation)
        start = env["at_ms"]
        cut = start if discontinue_ms is None else discontinue_ms
        return SliceStarted(**env, start_ms=start, discontinue_ms=cut)

    def slice(self, index: int, generation: int = 1) -> SliceWritten:
        prefix = "" if generation <= 1 else f"bak{generation - 2}_"
        key = f"rec/{self.cname}/{prefix}{self.sid}_{self.cname}_{index}.ts"
        return SliceWritten(
            **self._env(generation), key=key, index=index,
            start_ms=T0 + index * 15_000, duration_s=15.0, size=1000,
        )  # fmt: skip

    def playlist_written(self, generation: int = 1, ended: bool = False) -> PlaylistWritten:
        return PlaylistWritten(**self._env(generation), key=self.playlist, segments=1, ended=ended)

    def mp4_written(self, index: int = 0, generation: int = 1) -> Mp4Written:
        key = f"rec/{self.cname}/{self.sid}_{self.cname}_{index}.mp4"
        return Mp4Written(
            **self._env(generation), key=key, index=index, start_ms=T0 + 500,
            duration_s=30.0, size=5000,
        )  # fmt: skip

    def uploaded(self, key: str, kind: str) -> FileUploaded:
        return FileUploaded(**self._env(), key=key, kind=kind, size=1000)

    def upload_failed(self, key: str) -> UploadFailed:
        return UploadFailed(**self._env(), key=key, kind="slice", attempt=1, reason="timeout")

    def stop_requested(self) -> StopRequested:
        return StopRequested(**self._env())

    def left(self, generation: int = 1) -> RecorderLeft:
        return RecorderLeft(**self._env(generation), leave_code=16)

    def stopped(self, status: str = "uploaded") -> RecordingStopped:
        return RecordingStopped(**self._env(), uploading_status=status)

    def exited(self, exit_status: int = 0) -> SessionExited:
        return SessionExited(**self._env(), exit_status=exit_status)

    def error(self, generation: int = 1) -> RecordingFailed:
        return RecordingFailed(**self._env(generation), module=0, error_code=50, message="boom")

    def layout(self, mixed_video_layout: int) -> LayoutUpdated:
        return LayoutUpdated(**self._env(), layout=Layout(mixed_video_layout=mixed_video_layout))

    def full(self) -> list[Event]:
        """A whole composite session in the spec's §15.5 order."""
        first = self.slice(0)
        media: list[Event] = [self.mp4_written(0)] if self.mp4 else []
        return [
            self.started(), self.launched(), self.uploader(),
            self.stream("audio"), self.stream("video"), self.slice_started(),
            first, self.playlist_written(),
            self.uploaded(first.key, "slice"), self.uploaded(self.playlist, "playlist"),
            *media, self.stop_requested(), self.left(), self.playlist_written(ended=True),
            self.uploaded(self.playlist, "playlist"), self.stopped(), self.exited(),
        ]  # fmt: skip
