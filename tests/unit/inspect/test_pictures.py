"""Pictures: what each figure draws, read back from its artists and pixels (Agg backend)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import pyplot as plt
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from cloudrec.inspect import Log, Session, fleet, media, plots

from .recorded import BLUE, MIX_SID, RED, SOLO_SID, Recorded


@pytest.fixture(scope="module")
def log(recorded: Recorded) -> Log:
    return Log.open(recorded.url)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def labels(ax) -> set[str]:
    return {artist.get_label() for artist in ax.get_children()}


def near(pixel, colour, tolerance: int = 40) -> bool:
    return bool(np.all(np.abs(np.asarray(pixel, dtype=int) - colour) < tolerance))


def test_timeline_has_every_series(log: Log) -> None:
    fig = plots.timeline(log.session(MIX_SID))
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["uid 1 in channel", "uid 1 audio", "uid 1 video", "uid 2 in channel",
                     "uid 2 audio", "uid 2 video", "slices g1", "slices g2", "uploads"]
    assert {"layout → float", "failover g1", "gap", "uploads"} <= labels(ax)
    gap = next(p for p in ax.patches if p.get_label() == "gap")
    start, end = gap.get_x(), gap.get_x() + gap.get_width()
    assert 2.4 < start < 2.6 and end == pytest.approx(3.5)


def test_contact_sheet_shows_each_user_in_their_region(log: Log, storage) -> None:
    session = log.session(MIX_SID)
    times = media.contact_times(session, every_s=1.0)
    assert session.started_ms + 1_700 in times  # just after the layout change
    stills = {s.at_ms - session.started_ms: s for s in media.stills(session, storage, times)}
    best_fit = stills[1_000]
    (uid1, left), (uid2, right) = best_fit.regions
    assert (uid1, uid2) == (1, 2) and best_fit.layout == "bestFit"
    assert near(_centre(best_fit.image, left), RED) and near(_centre(best_fit.image, right), BLUE)
    float_ = stills[1_700]
    (_, full), (_, tile) = float_.regions
    assert full.width == float_.image.shape[1] and tile.width < full.width / 3
    assert near(_centre(float_.image, tile), BLUE)
    assert stills[3_000].image is None  # in the failover's gap
    assert [uid for uid, _ in stills[4_000].regions] == [1]  # user 2 left at 4 s

    fig = plots.contact_sheet(session, storage)
    images = [a for a in fig.axes if any(isinstance(c, AxesImage) for c in a.get_children())]
    assert len(images) == len(times) - 1  # every moment but the gap has a frame
    outlined = [p.get_label() for a in fig.axes for p in a.patches if isinstance(p, Rectangle)
                and p.get_label().startswith("uid")]
    assert outlined.count("uid 2") == 3 and outlined.count("uid 1") == 4  # from 0.3 s to 5 s


def _centre(image, rect):
    return image[rect.y + rect.height // 2, rect.x + rect.width // 2 + rect.width // 5]


def test_audio_levels_per_user(log: Log, storage) -> None:
    fig = plots.audio_levels(log.session(SOLO_SID), storage)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert set(lines) == {"uid 1", "uid 2"}
    assert min(lines["uid 2"].get_xdata()) >= 1.0  # user 2 published from 1 s on
    assert np.median(lines["uid 1"].get_ydata()) > -40  # a tone, not silence


def test_latency_histograms(log: Log) -> None:
    uploads, slices = fleet.uploads(log), fleet.slices(log)
    assert len(uploads) > len(slices) > 6 and (uploads.latency_s > 0).all()
    fig = plots.latencies(uploads, slices)
    left, right = fig.axes
    assert left.get_title().startswith(f"upload latency (s): n={len(uploads)}")
    assert right.get_title().startswith(f"slice lateness (s): n={len(slices)}")
    assert sum(p.get_height() for p in left.patches) == len(uploads)


def test_fleet_views(log: Log) -> None:
    states = fleet.states_over_time(log, points=50)
    assert list(states.columns) == ["recording", "stopping", "ended"]
    assert states.iloc[-1].to_dict() == {"recording": 0, "stopping": 0, "ended": 2}
    assert states.recording.max() == 1
    assert list(fleet.failovers(log).channel) == ["room42"]
    assert list(fleet.top_channels(log).index) == ["room42", "solo"]
    assert fleet.problems(log).empty and fleet.callback_lag(log).empty
    fig = plots.states(states)
    assert {line.get_label() for line in fig.axes[0].get_lines()} == set(states.columns)


def test_sessions_have_no_media_without_storage(log: Log, tmp_path) -> None:
    session: Session = log.session(MIX_SID)
    from cloudrec.tools.tracks import ToolError
    with pytest.raises(ToolError):
        media.stills(session, tmp_path, [session.started_ms])
