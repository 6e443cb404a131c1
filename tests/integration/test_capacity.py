"""R7 with relaxed figures: default-canvas composites and individual users at once, on the real
service, keep real time, and what they wrote plays.

Runs `bench/capacity.py --r7` (R7's step alone) in a process of its own: its own Ray cluster
(own RAY_TMPDIR, stopped by `ray.shutdown`), the controller, channel, recorder and uploader
actors, the embedded log and the REST API, with looped synthetic publishers; 15 s slices (the
service's default). The benchmark runs R7's real figures (10 composites + 100 individual users);
here 3 composites and 25 individual users, so that a CI machine busy with the rest of the suite
holds it. Checked: every stream's slices ending in the window are in the log, none later than one
slice length; a composite slice decodes to the default canvas with every user's tone, user 1's
colour in the centre and about one slice length of video; an individual user's video and audio
slices decode to their picture and tone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cloudrec.actors.channel.synthetic import synthetic_publishers
from cloudrec.actors.layout.geometry import PixelRect

from .media import colour_at, decode, tone_strength

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BENCH = Path(__file__).parents[2] / "bench" / "capacity.py"
COMPOSITES, USERS, WINDOW_S, SLICE_S = 3, 25, 33.0, 15.0


@pytest.fixture(scope="module")
def r7_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:  # type: ignore[type-arg]
    root = tmp_path_factory.mktemp("r7")
    run = subprocess.run(
        [sys.executable, str(BENCH), "--r7", "--quick", "--r7-load", str(COMPOSITES), str(USERS),
         "--r7-window", str(WINDOW_S), "--root", str(root)],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    summary = json.loads((root / "capacity-r7.json").read_text())
    return summary["steps"][0], root / "r7" / "recordings"


def test_composites_and_individual_users_at_once_keep_real_time(r7_run: tuple[dict, Path]  # type: ignore[type-arg]
                                                               ) -> None:
    step, _ = r7_run
    assert (step["recordings"], step["users"]) == (COMPOSITES + 1, COMPOSITES * 4 + USERS)
    # composites: one stream each; individual: audio + video of every user
    assert step["slices_expected"] == (COMPOSITES + 2 * USERS) * int(WINDOW_S // SLICE_S - 1)
    assert step["slices"] >= step["slices_expected"], step
    assert step["lateness_ms"]["max"] <= SLICE_S * 1000, step["lateness_ms"]
    assert step["realtime"]


def _middle_slice(paths: list[Path]) -> Path:
    """A slice that is neither a recording's first nor its last (whole length)."""
    ordered = sorted(paths)
    assert len(ordered) >= 3, ordered
    return ordered[len(ordered) // 2]


def test_what_they_wrote_plays(r7_run: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    _, recordings = r7_run
    slices = list(recordings.rglob("*.ts"))
    composite = [p for p in slices if "__uid_s_" not in p.name]
    video = [p for p in slices if "__uid_e_video_" in p.name]
    audio = [p for p in slices if "__uid_e_audio_" in p.name]
    assert composite and video and audio, sorted(p.name for p in slices)[:20]

    sid = composite[0].name.split("_")[0]
    one_recording = [p for p in composite if p.name.split("_")[0] == sid]
    mixed = decode(_middle_slice(one_recording))
    assert (mixed.width, mixed.height) == (360, 640)  # the API's default canvas
    assert SLICE_S - 1.5 <= mixed.video_seconds <= SLICE_S + 1.5
    users = synthetic_publishers(4, width=640, height=360, fps=15)
    quiet = tone_strength(mixed.audio, mixed.sample_rate, 2_900.0)
    for user in users:  # every user is heard
        assert tone_strength(mixed.audio, mixed.sample_rate, user.tone_hz) > 20 * max(quiet, 1e-3)
    centre = colour_at(mixed.frame_at(mixed.video_times[0] + 5), PixelRect(150, 250, 60, 60))
    assert np.abs(centre - np.array(users[0].color)).max() < 40  # float layout: user 1 behind

    crowd = synthetic_publishers(1, width=320, height=180, fps=15)[0]
    uid = video[0].name.split("__uid_s_")[1].split("__")[0]
    picture = decode(_middle_slice([p for p in video if f"__uid_s_{uid}__" in p.name]),
                     kinds=("video",))
    assert (picture.width, picture.height) == (320, 180)
    assert SLICE_S - 1.5 <= picture.video_seconds <= SLICE_S + 1.5
    frame = picture.frame_at(picture.video_times[0] + 5)
    assert np.abs(colour_at(frame, PixelRect(0, 0, 320, 180)) - np.array(crowd.color)).max() < 40
    sound = decode(_middle_slice([p for p in audio if f"__uid_s_{uid}__" in p.name]),
                   kinds=("audio",))
    quiet = max(tone_strength(sound.audio, sound.sample_rate, 2_900.0), 1e-3)
    assert tone_strength(sound.audio, sound.sample_rate, crowd.tone_hz) > 20 * quiet

