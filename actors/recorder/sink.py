"""The recorder's sink: a `RecordingOutput` run on its own worker thread (style rule 16).

`push_video`, `push_audio` and `mark_track_start` put the call on a bounded queue and return; one
worker thread runs the calls in order, so decoding and compositing on the caller's thread overlap
with x264 (PyAV releases the GIL while it encodes). A full queue blocks the caller: the encoder
is never more than `depth` calls behind. `None` on the queue ends the worker.

Files the output finishes are not reported from the worker: they wait in an outbox and are
handed to `on_file` on the caller's thread, at the next call, at `poll()`, `drain()` or
`close()`, so the event log and the uploader are only ever touched by the thread that drives
the recorder. An exception raised by a call on the worker is re-raised on the caller's thread at
the next call (the worker itself goes on with the calls after it, as a synchronous output would).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import av

from .files import FileWritten, OnFile, OutputConfig
from .output import RecordingOutput

Call = tuple[Callable[..., None], tuple[Any, ...]]


class ThreadedOutput:
    def __init__(self, config: OutputConfig, on_file: OnFile, depth: int = 8) -> None:
        self._on_file = on_file
        self._outbox: deque[FileWritten] = deque()
        self._errors: deque[BaseException] = deque()
        self._output = RecordingOutput(config, self._outbox.append)
        self._calls: queue.Queue[Call | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._work, name=f"output-{config.sid}",
                                        daemon=True)
        self._thread.start()

    def mark_track_start(self, track_type: str, ms: int) -> None:
        self._submit(self._output.mark_track_start, track_type, ms)

    def end_at(self, t_ms: float) -> None:
        self._submit(self._output.end_at, t_ms)

    def push_video(self, frame: av.VideoFrame, t_ms: float) -> None:
        """Queue `frame` for encoding; the caller must not touch it afterwards."""
        self._submit(self._output.push_video, frame, t_ms)

    def push_audio(self, frame: av.AudioFrame, t_ms: float) -> None:
        self._submit(self._output.push_audio, frame, t_ms)

    def poll(self) -> None:
        """Hand finished files to `on_file`; raise what the worker raised since the last call."""
        while self._outbox:
            self._on_file(self._outbox.popleft())
        if self._errors:
            raise self._errors.popleft()

    def drain(self) -> None:
        """Wait until every queued call has run, then `poll()`."""
        self._calls.join()
        self.poll()

    def close(self) -> None:
        """Run what is queued, close the output (last slice, playlist, MP4), stop the worker.

        Files are handed over, then the first error the worker raised (if any) is re-raised.
        """
        self._calls.put((self._output.close, ()))
        self._calls.put(None)
        self._thread.join()
        self.poll()

    def _submit(self, method: Callable[..., None], *args: Any) -> None:
        self.poll()
        self._calls.put((method, args))

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            method, args = call
            try:
                method(*args)
            except BaseException as error:  # handed to the caller's thread by `poll`
                self._errors.append(error)
            finally:
                self._calls.task_done()
        self._calls.task_done()
