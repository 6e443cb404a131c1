"""Flash-and-beep publishers recorded by the composite core on a simulated clock (P5).

Each `FlashAndBeep` user sends black frames and silence, but once every `PERIOD_S` of its own
media time a white frame and, from the same instant, a short beep at the user's own pitch
(shared/spec/media-timing.md, "Measuring sync"). `record_mix` publishes such users into a channel,
each from its own channel time and with its own network delay per track, records them with the
`Recorder` core into one MP4 and returns where each user's flashes and beeps ended up in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.looped import Looped
from cloudrec.actors.channel.packet import MediaPacket
from cloudrec.actors.channel.synthetic import SyntheticPublisher
from cloudrec.actors.layout.geometry import PixelRect, to_pixels
from cloudrec.actors.layout.geometry import Region as GeometryRegion
from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout, LayoutRegion
from cloudrec.events.memory import MemoryEventLog

T0 = 1_800_000_000_000_000  # µs
FPS, RATE, PERIOD_S = 15, 48_000, 1.0
CANVAS = (160, 90)
STEP_US = 20_000  # the simulated clock's tick: one 20 ms audio frame
QUADRANTS = [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5)]


class FlashAndBeep(SyntheticPublisher):
    """Black and silent, but white and beeping for one frame time at every PERIOD_S."""

    def draw_frame(self, index: int) -> av.VideoFrame:
        period = round(PERIOD_S * self.fps)
        white = index % period == period // 2
        image = np.full((self.height, self.width, 3), 255 if white else 0, np.uint8)
        return av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")

    def _tone_frame(self, start: int) -> av.AudioFrame:
        t = (start + np.arange(self._audio_frame_samples)) / self.sample_rate
        flash_s = (round(PERIOD_S * self.fps) // 2) / self.fps  # when draw_frame flashes
        phase = (t - flash_s) % PERIOD_S
        beep = np.where(phase < 1 / self.fps, 0.5 * np.sin(2 * np.pi * self.tone_hz * t), 0.0)
        frame = av.AudioFrame.from_ndarray((beep * 32767).astype(np.int16)[None, :],
                                           format="s16", layout="mono")
        frame.sample_rate, frame.pts = self.sample_rate, start
        frame.time_base = self.audio_time_base
        return frame


def looped(source: FlashAndBeep) -> Looped:
    """The source's first period sent again and again with later timestamps: one period of a
    `FlashAndBeep` is one GOP of video and whole audio frames, so the repeats decode like the
    original would, and a 10-minute run costs the recorder's work, not the publisher's encoders.
    """
    assert (PERIOD_S * source.fps).is_integer() and (PERIOD_S * 50).is_integer()
    return Looped(source.tracks(), source.packets_until(PERIOD_S), PERIOD_S)


@dataclass(frozen=True)
class User:
    """A sync publisher: when it starts (channel seconds after T0) and how late each of its
    tracks' packets reach the channel."""

    uid: int
    start_s: float
    audio_delay_ms: int = 0
    video_delay_ms: int = 0


@dataclass
class Sending:
    user: User
    source: Looped
    in_flight: list[tuple[int, MediaPacket]] = field(default_factory=list)

    def due(self, now_us: int) -> list[MediaPacket]:
        """Packets made up to now, and those of them whose network delay has passed."""
        start_us = T0 + round(self.user.start_s * 1e6)
        if now_us >= start_us:
            for packet in self.source.packets_until((now_us - start_us) / 1e6):
                delay = self.user.audio_delay_ms if packet.kind == "audio" else \
                    self.user.video_delay_ms
                self.in_flight.append((now_us + delay * 1000, packet))
        arrived = [p for at, p in self.in_flight if at <= now_us]
        self.in_flight = [(at, p) for at, p in self.in_flight if at > now_us]
        return arrived


@dataclass
class Offsets:
    """Per user: every flash seen in the composite and the beep onset nearest to it (seconds)."""

    pairs: dict[int, list[tuple[float, float]]]

    def worst_ms(self) -> float:
        return max(abs(b - f) * 1000 for pairs in self.pairs.values() for f, b in pairs)


def layout(users: list[User]) -> Layout:
    """Each user bound to a quadrant, so where a flash shows never depends on who joined."""
    return Layout(mixed_video_layout=3, layout_config=[
        LayoutRegion(uid=user.uid, x_axis=x, y_axis=y, width=0.5, height=0.5)
        for user, (x, y) in zip(users, QUADRANTS, strict=False)])


def record_mix(users: list[User], seconds: float, out: Path) -> Path:
    """Record `users` for `seconds` of channel time; the composite MP4's path."""
    clock = {"now": T0}
    channel = Channel(clock=lambda: clock["now"], share_publisher_offset=True)
    channel.subscribe("rec")
    sending = [Sending(u, looped(FlashAndBeep(u.uid, (0, 0, 0), 600.0 + 400 * i, width=64,
                                              height=36, fps=FPS))) for i, u in enumerate(users)]
    for s in sending:
        for track in s.source.tracks():
            channel.publish(track)
    config = RecordingConfig(sid="s" * 32, appid="app", cname="sync", recorder_uid=99,
                             generation=1, workdir=out, mode="mix", width=CANVAS[0],
                             height=CANVAS[1], fps=FPS, layout=layout(users),
                             av_file_types=("mp4",), slice_seconds=60.0)
    jobs: list[UploadJob] = []
    core = Recorder(config, MemoryEventLog(), jobs.append, t0_us=T0)
    for step in range(1, int(seconds * 1e6 / STEP_US) + 1):
        clock["now"] = T0 + step * STEP_US
        channel.push([p for s in sending for p in s.due(clock["now"])])
        core.receive(channel.pull("rec"))
        core.render(clock["now"])
    core.finish(clock["now"])
    return next(job.path for job in jobs if job.kind == "mp4")


def offsets(path: Path, users: list[User]) -> Offsets:
    """Pair each flash in a user's quadrant with the nearest beep onset in the mix."""
    rects = [to_pixels(GeometryRegion(u.uid, x, y, 0.5, 0.5, 0), *CANVAS)
             for u, (x, y) in zip(users, QUADRANTS, strict=False)]
    flashes: dict[int, list[float]] = {u.uid: [] for u in users}
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            gray = frame.to_ndarray(format="gray")
            for user, rect in zip(users, rects, strict=True):
                if _inside(gray, rect).mean() > 128:
                    flashes[user.uid].append(float(frame.time or 0.0))
        container.seek(0)
        onsets = _onsets(container)
    return Offsets({uid: [(f, min(onsets, key=lambda b: abs(b - f))) for f in seen]
                    for uid, seen in flashes.items()})


def _inside(gray: np.ndarray, rect: PixelRect) -> np.ndarray:
    margin = 4
    return gray[rect.y + margin : rect.y + rect.height - margin,
                rect.x + margin : rect.x + rect.width - margin]


def _onsets(container: av.container.InputContainer) -> list[float]:
    """Times (s, on the MP4's clock) where the audio turns loud after >= 10 ms of quiet."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    frames = [r for f in container.decode(audio=0) for r in resampler.resample(f)]
    begin = float(frames[0].time or 0.0)
    loud = np.abs(np.concatenate([f.to_ndarray().reshape(-1) for f in frames])) > 0.05
    quiet_before = np.convolve(loud, np.ones(RATE // 100), "full")[: len(loud) - 1] == 0
    return [begin + (i + 1) / RATE for i in np.flatnonzero(loud[1:] & quiet_before)]
