"""A mix recorder that stalls (a starved process: no render for 8 s) and then renders it all
at once still gives every slice its audio.

Seen in CI on a loaded machine: the first HLS slice of a composite held video only. One render
pushed 8 s of video frames before any of that time's audio, the cutter closed slices on the
video's key frames, and the audio of all of them landed in the slice that was open by then.
Audio is now mixed up to each video frame as it is rendered.
"""

from __future__ import annotations

from pathlib import Path

import av

from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.recorder.recorder import Recorder
from cloudrec.actors.uploader.uploader import UploadJob
from cloudrec.events.layout import Layout
from cloudrec.events.memory import MemoryEventLog

from .live import synthetic_channel

T0 = 1_800_000_000_000_000  # µs


def test_slices_rendered_after_a_stall_each_hold_their_audio(tmp_path: Path) -> None:
    clock, channel, sources = synthetic_channel(1, T0)
    config = RecordingConfig(sid="s" * 32, appid="a", cname="room", recorder_uid=99,
                             generation=1, workdir=tmp_path, layout=Layout(mixed_video_layout=1),
                             slice_seconds=2.0)
    jobs: list[UploadJob] = []
    core = Recorder(config, MemoryEventLog(), jobs.append, t0_us=T0)
    for step in range(1, 91):
        clock["now"] = T0 + step * 100_000
        channel.push(sources[0].packets_until(step / 10))
        core.receive(channel.pull("rec"))
        if step == 1 or step > 80:  # nothing rendered from 0.1 s to 8.1 s
            core.render(clock["now"])
    core.finish(clock["now"])
    slices = [job.path for job in jobs if job.kind == "slice"]
    assert len(slices) == 5
    for path in slices[:-1]:  # 2 s each: ~94 AAC frames of 1024 samples at 48 kHz
        with av.open(str(path)) as container:
            kinds = [p.stream.type for p in container.demux() if p.size]
        audio, video = kinds.count("audio"), kinds.count("video")
        assert 85 <= audio <= 100, (path.name, audio)
        assert 28 <= video <= 32, (path.name, video)
