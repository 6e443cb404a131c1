"""The events one simulated recording appends, when, and to which stream (bench/fleet.py, P8).

No media: the events a default mix-mode recording, its uploader, its channel, the API and the
webhook deliverer append over the recording's life, on its own stream (the sid) and its
channel's (`appid/cname`), each append holding one stream's events as the real writers do. The
defaults follow the code and the recorded logs of the integration tests:

  slices      `RuntimeSettings.slice_seconds` 15 s. Per slice: `SliceWritten` and
              `PlaylistWritten` (two appends, as `actors/recorder/ledger.py` does), then two
              `FileUploaded` (the slice and the rewritten playlist)
  progress    `UploaderActor.progress_s` 60 s: `UploadProgressed` (callback 33)
  users       4 publishers; one leaves or joins every `change_s` (60 s, alternately: a visit of
              about 4 x 2 min). A leave is `UserLeft` on the channel and two `StreamStateChanged`
              (audio, video; callbacks 43/44) on the sid; a join `UserJoined` and two
              `TrackPublished`, then two `StreamStateChanged`
  layout      an `updateLayout` every 10 minutes (`LayoutUpdated`)
  callbacks   every notification `projections.callbacks` makes of these events is delivered
              once: a `CallbackDelivered` 50 ms after its event (the app has a webhook)
  life        30 minutes from `start` to `stop`; the start (`RecordingStarted`,
              `RecordingPlanned`, `UploaderStarted`, `RecorderLaunched`, the mix's and each
              user's `StreamStateChanged`, `SliceStarted`) and the stop (`StopRequested`, the last
              slice, every stream stopped, `RecorderLeft`, uploads, `UploadProgressed`,
              `RecordingStopped`, `SessionExited`) are spread over it in `per_minute`

`Life` yields `(seconds since start, events)`: one append each, in the order one writer appends
them. `Rates.steady_per_minute` is the closed form the README quotes; the unit test checks a
generated life against it.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from cloudrec.events.callback import CallbackDelivered
from cloudrec.events.channel import TrackPublished, UserJoined, UserLeft, channel_id
from cloudrec.events.envelope import Event
from cloudrec.events.layout import Layout, LayoutUpdated
from cloudrec.events.recording import (
    RecorderLaunched,
    RecorderLeft,
    RecordingPlanned,
    RecordingStarted,
    RecordingStopped,
    SessionExited,
    StopRequested,
)
from cloudrec.events.segment import PlaylistWritten, SliceStarted, SliceWritten, StreamStateChanged
from cloudrec.events.upload import FileUploaded, UploaderStarted, UploadProgressed
from cloudrec.projections.callbacks import notice_id

Moment = tuple[float, list[Event]]  # seconds since the recording's start, one append


@dataclass(frozen=True)
class Rates:
    slice_s: float = 15.0  # RuntimeSettings.slice_seconds
    progress_s: float = 60.0  # UploaderActor.progress_s
    users: int = 4  # publishers in the channel (one fewer between a leave and the next join)
    change_s: float = 60.0  # a user leaves, or (the next time) one joins
    layout_s: float = 600.0  # updateLayout
    life_s: float = 1800.0  # start to stop
    upload_s: float = 0.3  # file written -> FileUploaded
    callback_s: float = 0.05  # notifying event -> CallbackDelivered

    def steady_per_minute(self) -> dict[str, float]:
        """Events per recording-minute by type between start and stop (the last slice and the
        last progress report, made by the stop, count here)."""
        slices, changes = 60 / self.slice_s, 60 / self.change_s
        progress = 60 / self.progress_s
        return {
            "SliceWritten": slices, "PlaylistWritten": slices, "FileUploaded": 2 * slices,
            "UploadProgressed": progress, "StreamStateChanged": 2 * changes,
            "UserJoined": changes / 2, "UserLeft": changes / 2, "TrackPublished": changes,
            "LayoutUpdated": 60 / self.layout_s,
            "CallbackDelivered": 2 * changes + progress,  # 43/44 per stream change, 33
        }

    def start_stop(self) -> dict[str, int]:
        """Events of one start and one stop on top of the steady rate (with `users` users in
        the channel at both: the changes alternate, an even number per life)."""
        streams = 2 + 2 * self.users  # audio and video of the mix ("0") and of each user
        return {
            "RecordingStarted": 1, "RecordingPlanned": 1, "UploaderStarted": 1,
            "RecorderLaunched": 1, "SliceStarted": 1, "StreamStateChanged": 2 * streams,
            "StopRequested": 1, "RecorderLeft": 1, "RecordingStopped": 1, "SessionExited": 1,
            # 30, 40, 42, 43/44 at the start; 4 (file_infos) once; 43/44, 41, 31, 11 at the stop
            "CallbackDelivered": 3 + streams + 1 + streams + 3,
        }

    def per_life(self) -> dict[str, float]:
        counts = {k: v * self.life_s / 60 for k, v in self.steady_per_minute().items()}
        for k, v in self.start_stop().items():
            counts[k] = counts.get(k, 0) + v
        return counts

    def per_minute(self) -> float:
        """All events per recording-minute, start and stop spread over the life."""
        return sum(self.per_life().values()) / (self.life_s / 60)

    def per_second(self) -> float:
        return self.per_minute() / 60


@dataclass
class Channel:
    """The users in one channel, kept across the recordings made of it."""

    appid: str
    cname: str
    users: list[int] = field(default_factory=list)
    next_uid: int = 1

    @property
    def stream(self) -> str:
        return channel_id(self.appid, self.cname)

    def joined(self, at_ms: int) -> list[list[Event]]:
        uid, self.next_uid = self.next_uid, self.next_uid + 1
        self.users.append(uid)
        return [[UserJoined(stream_id=self.stream, at_ms=at_ms, uid=uid)],
                [TrackPublished(stream_id=self.stream, at_ms=at_ms, uid=uid, kind="audio",
                                codec="opus")],
                [TrackPublished(stream_id=self.stream, at_ms=at_ms, uid=uid, kind="video",
                                codec="h264")]]


class Life:
    """One recording of `channel` from `start` to `stop`, begun `epoch_ms` (wall clock).

    Iterating yields its appends in time order; with `skip_to` the periodic ones (slices after
    the first, progress, user changes, layout) begin that many seconds into the life, while the
    start and the first slice are still given (a fleet prefills them, untimed). A notifying
    event's `CallbackDelivered` is made when the event is yielded, so sequences follow the
    order the events reach the log."""

    def __init__(self, rates: Rates, channel: Channel, epoch_ms: int, skip_to: float = 0.0,
                 sid: str | None = None) -> None:
        self.rates, self.channel, self.epoch_ms = rates, channel, epoch_ms
        self.sid = sid or uuid.uuid4().hex
        self.sequence = 0  # of the session's next notification
        self.slices = 0
        self.playlist = f"rec/{channel.cname}/{self.sid}_{channel.cname}.m3u8"
        self.reported_playlist = False
        self._heap: list[tuple[float, int, str, int]] = []
        self._order = itertools.count()
        self._pending: dict[int, list[Event]] = {}
        self._notifies: dict[str, list[int]] = {}  # event id -> the callbacks' event types
        r = rates
        self._at(0.0, "start")
        self._skip_to = skip_to
        self._at(1.0 + r.slice_s, "slice")  # the first; each schedules the next
        self._periodic("progress", 0.0, r.progress_s, 0.0)
        self._periodic("change", r.change_s / 2, r.change_s, 0.0)
        self._periodic("layout", r.layout_s / 2, r.layout_s, 0.0)
        self._at(r.life_s, "stop")

    def _periodic(self, kind: str, offset: float, period: float, not_before: float) -> None:
        not_before = max(not_before, self._skip_to)
        k = max(0 if offset else 1, -int(-(not_before - offset) // period))  # first t >= it
        if offset + k * period < self.rates.life_s:
            self._at(offset + k * period, kind)

    def _at(self, t: float, kind: str) -> None:
        heapq.heappush(self._heap, (t, next(self._order), kind, 0))

    def _later(self, t: float, events: list[Event]) -> None:
        n = next(self._order)
        self._pending[n] = events
        heapq.heappush(self._heap, (t, n, "", n))

    def __iter__(self) -> Iterator[Moment]:
        while self._heap:
            t, _, kind, n = heapq.heappop(self._heap)
            if not kind:
                events = self._pending.pop(n)
                yield t, events
                for event in events:
                    for event_type in self._notifies.pop(event.event_id, ()):
                        self._later(t + self.rates.callback_s, [self._delivered(event, event_type)])
                continue
            for delay, events in getattr(self, f"_{kind}")(t):
                self._later(t + delay, events)

    def ms(self, t: float) -> int:
        return self.epoch_ms + round(t * 1000)

    def _notify(self, event: Event, *event_types: int) -> Event:
        self._notifies[event.event_id] = list(event_types)
        return event

    def _delivered(self, event: Event, event_type: int) -> Event:
        self.sequence += 1
        return CallbackDelivered(
            stream_id=self.sid, at_ms=event.at_ms + round(self.rates.callback_s * 1000),
            appid=self.channel.appid, notice_id=notice_id(event, event_type),
            event_type=event_type, sequence=self.sequence - 1, attempt=1, http_status=200,
            latency_ms=round(self.rates.callback_s * 1000))

    def _streams(self, t: float, uids: list[int], state: int, mix: bool = False) -> list[Event]:
        """The recorder's `StreamStateChanged` (callbacks 43, 44), one append."""
        at = self.ms(t)
        keys = ["0"] if mix else []
        keys += [str(uid) for uid in uids]
        return [self._notify(StreamStateChanged(
            stream_id=self.sid, at_ms=at, generation=1, track=track, stream_uid=uid,
            state=state, utc_ms=at), 43 if track == "audio" else 44)
            for uid in keys for track in ("audio", "video")]

    def _start(self, t: float) -> list[tuple[float, list[Event]]]:
        c, sid = self.channel, self.sid
        first = self.ms(t + 1.0)
        return [
            (0.0, [RecordingStarted(
                stream_id=sid, at_ms=self.ms(t), appid=c.appid, cname=c.cname, uid="999",
                resource_id=f"res-{sid}", mode="mix", config={}, av_file_types=["hls"],
                file_prefix=["rec", c.cname], playlist=self.playlist)]),
            (0.01, [RecordingPlanned(stream_id=sid, at_ms=self.ms(t), plan={})]),
            (0.2, [self._notify(UploaderStarted(stream_id=sid, at_ms=self.ms(t + 0.2),
                                                storage="s3://bucket"), 30)]),
            (0.5, [self._notify(RecorderLaunched(stream_id=sid, at_ms=self.ms(t + 0.5),
                                                 generation=1, recorder_uid=999,
                                                 node_id="node-1"), 40)]),
            (1.0, [*self._streams(t + 1.0, [], 0, mix=True),
                   self._notify(SliceStarted(stream_id=sid, at_ms=first, generation=1,
                                             start_ms=first, discontinue_ms=first), 42)]),
            (1.0, self._streams(t + 1.0, c.users, 0)),
        ]

    def _slice(self, t: float, ended: bool = False) -> list[tuple[float, list[Event]]]:
        index, at, sid = self.slices, self.ms(t), self.sid
        self.slices += 1
        key = f"rec/{self.channel.cname}/{sid}_{self.channel.cname}_{index}.ts"
        up = self.rates.upload_s
        playlist = FileUploaded(stream_id=sid, at_ms=self.ms(t + up), generation=1,
                                key=self.playlist, kind="playlist", size=2_000)
        if not self.reported_playlist:
            self.reported_playlist = True
            self._notify(playlist, 4)
        if not ended:
            self._periodic("slice", 1.0, self.rates.slice_s, t + 0.001)
        return [
            (0.0, [SliceWritten(stream_id=sid, at_ms=at, generation=1, key=key, index=index,
                                start_ms=at - round(self.rates.slice_s * 1000),
                                duration_s=self.rates.slice_s, size=1_000_000)]),
            (0.0, [PlaylistWritten(stream_id=sid, at_ms=at, generation=1, key=self.playlist,
                                   segments=self.slices, ended=ended)]),
            (up, [FileUploaded(stream_id=sid, at_ms=self.ms(t + up), generation=1, key=key,
                               kind="slice", size=1_000_000, md5="0" * 32)]),
            (up, [playlist]),
        ]

    def _progress(self, t: float) -> list[tuple[float, list[Event]]]:
        self._periodic("progress", 0.0, self.rates.progress_s, t + 0.001)
        return [(0.0, [self._notify(UploadProgressed(stream_id=self.sid, at_ms=self.ms(t),
                                                     progress=10_000), 33)])]

    def _change(self, t: float) -> list[tuple[float, list[Event]]]:
        c, at = self.channel, self.ms(t)
        self._periodic("change", self.rates.change_s / 2, self.rates.change_s, t + 0.001)
        if len(c.users) >= self.rates.users:
            uid = c.users.pop(0)
            return [(0.0, [UserLeft(stream_id=c.stream, at_ms=at, uid=uid)]),
                    (0.2, self._streams(t + 0.2, [uid], 1))]
        moments = [(0.0, events) for events in c.joined(at)]
        return [*moments, (0.2, self._streams(t + 0.2, [c.users[-1]], 0))]

    def _layout(self, t: float) -> list[tuple[float, list[Event]]]:
        self._periodic("layout", self.rates.layout_s / 2, self.rates.layout_s, t + 0.001)
        return [(0.0, [LayoutUpdated(stream_id=self.sid, at_ms=self.ms(t),
                                     layout=Layout(mixed_video_layout=self.slices % 2))])]

    def _stop(self, t: float) -> list[tuple[float, list[Event]]]:
        sid, end = self.sid, 0.5 + self.rates.upload_s + 0.1
        return [
            (0.0, [StopRequested(stream_id=sid, at_ms=self.ms(t))]),
            *[(0.5 + delay, events) for delay, events in self._slice(t + 0.5, ended=True)],
            (0.5, self._streams(t + 0.5, self.channel.users, 1, mix=True)),
            (0.6, [self._notify(RecorderLeft(stream_id=sid, at_ms=self.ms(t + 0.6),
                                             generation=1, leave_code=16), 41)]),
            (end, [self._notify(UploadProgressed(stream_id=sid, at_ms=self.ms(t + end),
                                                 progress=10_000), 33)]),
            (end + 0.01, [self._notify(RecordingStopped(
                stream_id=sid, at_ms=self.ms(t + end), uploading_status="uploaded"), 31)]),
            (end + 0.02, [self._notify(SessionExited(stream_id=sid, at_ms=self.ms(t + end)),
                                       11)]),
        ]


def lives(rates: Rates, channel: Channel, epoch_ms: int, phase: float,
          gap_s: float = 1.0) -> Iterator[Moment]:
    """The recordings of one channel, one after another without end, the first begun `phase`
    seconds before `epoch_ms`: `(seconds since epoch_ms, events)`, negative for the first's
    start (and first slice) when they lie before it."""
    begun, skip = -phase, phase
    while True:
        life = Life(rates, channel, epoch_ms + round(begun * 1000), skip_to=skip)
        for t, events in life:
            yield begun + t, events
        begun, skip = begun + rates.life_s + gap_s, 0.0
