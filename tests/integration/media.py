"""Reading back what cloudrec wrote: full decodes, colours in a rectangle, tones in audio."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.channel.pacing import Pacer
from cloudrec.actors.channel.publisher import Publisher, Source
from cloudrec.actors.layout.geometry import PixelRect
from cloudrec.client import RecordingClient


@dataclass
class Decoded:
    width: int
    height: int
    video_times: list[float]
    frames: list[np.ndarray]  # rgb24
    audio: np.ndarray  # mono float32
    sample_rate: int
    video_codec: str
    audio_codec: str

    def frame_at(self, seconds: float) -> np.ndarray:
        index = int(np.searchsorted(self.video_times, seconds))
        return self.frames[min(index, len(self.frames) - 1)]

    @property
    def video_seconds(self) -> float:
        return self.video_times[-1] - self.video_times[0] if self.video_times else 0.0


def decode(path: Path, kinds: tuple[str, ...] = ("video", "audio")) -> Decoded:
    """Decode every packet of each stream of `kinds` (an individual recording's slice holds one
    kind); a missing stream or any decoding error fails the caller's test."""
    times: list[float] = []
    frames: list[np.ndarray] = []
    audio: list[np.ndarray] = []
    with av.open(str(path)) as container:
        video = container.streams.video[0] if "video" in kinds else None
        sound = container.streams.audio[0] if "audio" in kinds else None
        if video is not None:
            for frame in container.decode(video):
                times.append(float(frame.pts * frame.time_base))
                frames.append(frame.to_ndarray(format="rgb24"))
            container.seek(0)
        if sound is not None:
            for frame in container.decode(sound):
                audio.append(frame.to_ndarray().mean(axis=0))
        return Decoded(video.width if video else 0, video.height if video else 0, times, frames,
                       np.concatenate(audio).astype(np.float32) if sound else np.zeros(0),
                       sound.sample_rate if sound else 0,
                       video.codec_context.name if video else "",
                       sound.codec_context.name if sound else "")


def colour_at(image: np.ndarray, rect: PixelRect, fraction: float = 0.3) -> np.ndarray:
    """Median RGB of the central `fraction` of a rectangle (robust to the moving marker)."""
    cx, cy = rect.x + rect.width // 2, rect.y + rect.height // 2
    hw, hh = max(2, int(rect.width * fraction / 2)), max(2, int(rect.height * fraction / 2))
    window = image[cy - hh : cy + hh, cx - hw : cx + hw].reshape(-1, 3)
    return np.median(window, axis=0)


def tone_strength(samples: np.ndarray, rate: int, hz: float) -> float:
    """Spectral magnitude around `hz` (Hann window)."""
    window = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(window))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    band = spectrum[(freqs > hz - 8) & (freqs < hz + 8)]
    return float(band.max())


def start_recording(client: RecordingClient, cname: str, uid: str, mode: str, prefix: str,
                    fps: int = 15, layout: int = 1,
                    video_stream_type: int = 0, uid_group: int = 0) -> tuple[str, str]:
    """Acquire and start a `mode` recording of every stream in `cname` into file storage under
    `prefix`: a mix is 640x360 at `fps` in `layout` (bestFit) with HLS and MP4; the video of
    dual-stream senders is their `video_stream_type` stream; individual mode expects
    `uid_group` users (subscribeUidGroup). Returns (resourceId, sid)."""
    storage = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "local",
               "secretKey": "local", "fileNamePrefix": [prefix]}
    config: dict[str, Any] = {"streamTypes": 2, "channelType": 0,
                              "videoStreamType": video_stream_type}
    body: dict[str, Any] = {"recordingConfig": config, "storageConfig": storage}
    if mode == "mix":
        config["transcodingConfig"] = {"width": 640, "height": 360, "fps": fps, "bitrate": 800,
                                       "mixedVideoLayout": layout}
        body["recordingFileConfig"] = {"avFileType": ["hls", "mp4"]}
    else:
        config["subscribeUidGroup"] = uid_group
    resource = client.acquire(cname, uid)
    return resource, client.start(resource, cname, uid, body, mode=mode)


class Feeds:
    """Publishers feeding one channel, each in a thread of its own, as `cloudrec publish` does."""

    def __init__(self, channel: ChannelHandle) -> None:
        self.channel, self.stop = channel, threading.Event()
        self.threads: list[threading.Thread] = []

    def add(self, uid: int, source: Source) -> Publisher:
        """Start publishing `source` as `uid`; returns once its first packets are sent (so
        users added one after the other join in that order, which fixes their regions)."""
        feed = Publisher(self.channel, uid, source)
        self.threads.append(threading.Thread(target=feed.run, args=(self.stop,), daemon=True))
        self.threads[-1].start()
        while not feed.sent:
            time.sleep(0.05)
        return feed

    def add_crowd(self, sources: dict[int, Source]) -> None:
        """Publish many users from one thread: each joins (in the dict's order, which fixes
        their regions) and publishes its tracks, then one pacer sends every user's packets in
        one push per 100 ms. A thread per user made 10 Ray calls a second each: with 27 users
        the test process fell behind real time, so the channel stamped packets late enough
        for the recorder to drop their audio."""
        crowd = Crowd(self.channel, sources)
        self.threads.append(threading.Thread(target=crowd.run, args=(self.stop,), daemon=True))
        self.threads[-1].start()
        while not crowd.sent:
            time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


class Crowd:
    """Several users' sources published as one: `Publisher`'s join, publish, stream and leave,
    with every user's packets of a batch in one push."""

    def __init__(self, channel: ChannelHandle, sources: dict[int, Source]) -> None:
        self.channel, self.sources, self.sent = channel, sources, 0

    @property
    def exhausted(self) -> bool:
        return all(getattr(s, "exhausted", False) for s in self.sources.values())

    def tracks(self) -> list[Any]:
        return []  # published per user in `run`

    def packets_until(self, media_seconds: float) -> list[Any]:
        """Each user's packets in their own (decode) order, one user after the other."""
        return [p for s in self.sources.values() for p in s.packets_until(media_seconds)]

    def run(self, stop: threading.Event) -> None:
        for uid, source in self.sources.items():
            self.channel.join(uid)
            for track in source.tracks():
                self.channel.publish(track)
        try:
            for packets in Pacer(self).batches():
                if stop.is_set():
                    return
                if packets:
                    self.sent += self.channel.push(packets)
        finally:
            for uid in self.sources:
                self.channel.leave(uid)
