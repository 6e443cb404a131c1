"""Corrupt media, end to end (R5): one user's bad packets neither stop nor stall a recording.

What is tried: two synthetic users publish H.264 + Opus; user BAD spoils 3 of every 5 of its
packets (garbage bytes, truncated, empty, stamped 2 s early) during two bursts of its media time,
2 s apart or more; a mix (bestFit, HLS + MP4) and an individual recording of the channel run
together through the REST API. What is checked: both recordings end normally; each gives
exactly one warning callback (event 2, module 0, warnCode 101) per burst and track of BAD and
none for GOOD; the composite MP4 decodes to its full length with GOOD's colour and tone; GOOD's
individual slices decode completely and hold every second of the recording.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from cloudrec.actors.channel.handle import ChannelHandle
from cloudrec.actors.channel.packet import MediaPacket, TrackInfo
from cloudrec.actors.channel.synthetic import SyntheticPublisher
from cloudrec.actors.layout.geometry import regions, to_pixels
from cloudrec.client import RecordingClient
from cloudrec.projections import callbacks
from cloudrec.runtime import Runtime

from .media import Feeds, colour_at, decode, start_recording, tone_strength

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.parametrize("runtime", ["embedded"], indirect=True)]

BAD, GOOD, FPS, RECORD_S, BEST_FIT = 6001, 6002, 15, 11.0, 1
BURSTS = [(2.0, 4.0), (6.5, 7.5)]  # BAD's media seconds after both recordings started
COLOURS = {BAD: (220, 40, 40), GOOD: (40, 200, 60)}
TONES = {BAD: 440.0, GOOD: 880.0}


class Spoilt:
    """A synthetic publisher whose packets within BURSTS are mostly spoilt."""

    def __init__(self, source: SyntheticPublisher) -> None:
        self.source, self.count = source, 0
        self.latest = 0.0  # the media time of the newest packet
        self.origin: float | None = None  # set once the recordings run: bursts count from it

    def tracks(self) -> list[TrackInfo]:
        return self.source.tracks()

    def packets_until(self, media_seconds: float) -> list[MediaPacket]:
        out: list[MediaPacket] = []
        for packet in self.source.packets_until(media_seconds):
            self.count += 1
            self.latest = packet.seconds
            since = None if self.origin is None else packet.seconds - self.origin
            if since is None or not any(a <= since < b for a, b in BURSTS):
                out.append(packet)
            else:
                out += self._spoil(packet, self.count % 5)
        return out

    @staticmethod
    def _spoil(packet: MediaPacket, n: int) -> list[MediaPacket]:
        data = packet.data
        if n == 0:
            return [replace(packet, data=bytes((i * 151 + 7) % 256 for i in range(len(data))))]
        if n == 1:
            return [replace(packet, data=data[: len(data) // 3])]
        if n == 2:
            return [replace(packet, data=b"")]
        early = replace(packet, pts=packet.pts - int(2 / packet.time_base))
        return [early, packet] if n == 3 else [early]


@pytest.fixture(scope="module")
def recorded(runtime: Runtime, server: Any, customers: dict[str, tuple[str, str]]
             ) -> dict[str, Any]:
    secret, appid = customers["alice"]
    client = RecordingClient(server.url, "alice", secret, appid)
    cname, tag = f"corrupt{int(time.time())}", f"{time.time_ns()}"
    channel = ChannelHandle(runtime.get_channel(appid, cname))
    feeds = Feeds(channel)
    spoilt = Spoilt(SyntheticPublisher(BAD, COLOURS[BAD], TONES[BAD], fps=FPS))
    for uid in (BAD, GOOD):  # one after the other: the join order fixes the regions
        source = SyntheticPublisher(uid, COLOURS[uid], TONES[uid], fps=FPS)
        feeds.add(uid, spoilt if uid == BAD else source)
    mix = start_recording(client, cname, "900051", "mix", f"mix{tag}", FPS, BEST_FIT)
    individual = start_recording(client, cname, "900052", "individual", f"ind{tag}")
    # bursts count from here: however long a loaded machine took to start, both see both
    spoilt.origin = spoilt.latest
    time.sleep(RECORD_S)
    # and until BAD has published past its last burst: a starved publisher thread falls behind
    # the wall clock (on a loaded CI machine it had not sent the second burst by the stop)
    deadline = time.monotonic() + 60
    while spoilt.latest < spoilt.origin + BURSTS[-1][1] + 2.5 and time.monotonic() < deadline:
        time.sleep(0.2)
    client.stop(*mix[:2], cname, "900051", mode="mix")
    client.stop(*individual[:2], cname, "900052", mode="individual")
    feeds.close()
    client.close()
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    notices = {mode: callbacks.notifications(runtime.events.read_stream(sid), sid)
               for mode, (_, sid) in {"mix": mix, "individual": individual}.items()}
    return {"mix": root / f"mix{tag}", "individual": root / f"ind{tag}", "notices": notices}


@pytest.mark.parametrize("mode", ["mix", "individual"])
def test_one_warning_per_burst_and_track_of_the_bad_user(recorded: dict[str, Any],
                                                          mode: str) -> None:
    notices = recorded["notices"][mode]
    warnings = [n["payload"]["details"] for n in notices if n["eventType"] == 2]
    assert sorted((w["streamUid"], w["trackType"]) for w in warnings) == [
        (str(BAD), "audio"), (str(BAD), "audio"), (str(BAD), "video"), (str(BAD), "video")]
    assert all((w["module"], w["warnCode"]) == (0, 101) for w in warnings)
    assert 11 in [n["eventType"] for n in notices]  # the session exited normally
    assert not [n for n in notices if n["eventType"] == 1]


def test_the_mix_is_whole_and_shows_the_good_user(recorded: dict[str, Any]) -> None:
    mp4 = decode(next(recorded["mix"].rglob("*.mp4")))
    assert mp4.video_seconds > RECORD_S - 2
    assert len(mp4.audio) / mp4.sample_rate > RECORD_S - 2
    region = next(r for r in regions(BEST_FIT, [BAD, GOOD], None) if r.uid == GOOD)
    tile = to_pixels(region, mp4.width, mp4.height)
    for seconds in np.arange(1.0, mp4.video_seconds - 0.5, 0.5):
        assert np.abs(colour_at(mp4.frame_at(seconds), tile) - COLOURS[GOOD]).max() < 40
    second = mp4.audio[-2 * mp4.sample_rate : -mp4.sample_rate]
    assert tone_strength(second, mp4.sample_rate, TONES[GOOD]) > 50 * tone_strength(
        second, mp4.sample_rate, 1500.0)


@pytest.mark.parametrize("kind", ["audio", "video"])
def test_the_good_users_individual_slices_decode_whole(recorded: dict[str, Any],
                                                        kind: str) -> None:
    [playlist] = recorded["individual"].rglob(f"*__uid_s_{GOOD}__uid_e_{kind}.m3u8")
    names = [line for line in playlist.read_text().splitlines() if not line.startswith("#")]
    seconds = 0.0
    for name in names:
        with av.open(str(playlist.parent / name)) as container:
            stream = container.streams[0]
            frames = list(container.decode(stream))
        assert frames
        seconds += len(frames) / FPS if kind == "video" else sum(
            f.samples for f in frames) / frames[0].sample_rate
    assert seconds > RECORD_S - 2
