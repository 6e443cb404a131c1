"""Pictures of sessions and fleets, drawn with matplotlib; each function returns its Figure.

Every series carries a label (`uid 1 video`, `slices g2`, `gap`, ...) so a figure can be read
back: by a legend in the notebook, by a test through its artists.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cloudrec.inspect import media
from cloudrec.inspect.session import Session

COLOURS = plt.get_cmap("tab10")
GENERATION_COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]


def timeline(session: Session) -> Figure:
    """Who was in the channel, whose audio/video was recorded, slices, uploads, layout changes,
    failovers and gaps, on one axis of seconds since the session started."""
    rows = _rows(session)
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(rows) + 1.8))
    for y, (label, spans, colour) in enumerate(rows):
        ax.broken_barh(spans, (y - 0.35, 0.7), facecolors=colour, edgecolors="white",
                       label=label)
    _marks(ax, session, len(rows))
    ax.set_yticks(range(len(rows) + 1), [label for label, _, _ in rows] + ["uploads"])
    ax.set_ylim(len(rows) + 0.6, -0.6)
    ax.set_xlabel("seconds since start")
    ax.set_title(f"{session.cname} {session.sid[:12]}… ({session.mode}, {session.state})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    return fig


Colour = str | tuple[float, float, float, float]
Rows = list[tuple[str, list[tuple[float, float]], Colour]]


def _rows(session: Session) -> Rows:
    """Per user: in the channel, audio and video recorded; then each generation's slices."""
    rows: Rows = []
    presence, streams = session.presence(), session.streams()
    users = set(presence.get("uid", [])) | set(streams.get("uid", [])) - {"0"}  # "0": the mix
    for n, uid in enumerate(sorted(users, key=int)):
        rows.append((f"uid {uid} in channel", _spans(presence[presence.uid == uid]), "#cccccc"))
        for track in ("audio", "video"):
            mine = streams[(streams.uid == uid) & (streams.track == track)]
            rows.append((f"uid {uid} {track}", _spans(mine), COLOURS(n % 10)))
    slices = session.slices()
    for generation in sorted(set(slices.get("generation", []))):
        mine = slices[slices.generation == generation]
        spans = list(zip(mine.start_s, mine.duration_s, strict=True))
        rows.append((f"slices g{generation}", spans, _generation_colour(generation)))
    return rows


def _spans(frame: pd.DataFrame) -> list[tuple[float, float]]:
    return [(a, b - a) for a, b in zip(frame.get("from_s", []), frame.get("to_s", []), strict=True)]


def _generation_colour(generation: int) -> str:
    return GENERATION_COLOURS[(generation - 1) % len(GENERATION_COLOURS)]


def _marks(ax: Axes, session: Session, height: int) -> None:
    uploads = session.uploads()
    if len(uploads):
        ax.scatter(uploads.done_s, [height] * len(uploads), marker="^", color="black",
                   label="uploads", zorder=3)
    for _, row in session.layouts().iloc[1:].iterrows():
        ax.axvline(row.at_s, color="purple", linestyle="--", label=f"layout → {row['name']}")
    for _, row in session.failovers().iterrows():
        ax.axvline(row.failed_s, color="red", label=f"failover g{row.failed_generation}")
    for _, row in session.gaps().iterrows():
        ax.axvspan(row.from_s, row.to_s, color="red", alpha=0.15, hatch="//", label="gap")


def contact_sheet(session: Session, storage: Path | str, every_s: float = 1.0,
                  columns: int = 4) -> Figure:
    """Frames of the composite recording every `every_s` seconds and after each layout change,
    each user's region outlined (from the layout geometry) and labelled."""
    stills = media.stills(session, storage, media.contact_times(session, every_s))
    lines = max(1, -(-len(stills) // columns))
    fig, axes = plt.subplots(lines, columns, figsize=(3.2 * columns, 2.1 * lines), squeeze=False)
    for ax, still in zip(axes.flat, stills, strict=False):
        _still(ax, still, session.started_ms)
    for ax in axes.flat[len(stills):]:
        ax.set_axis_off()
    fig.suptitle(f"{session.cname}: composite frames")
    fig.tight_layout()
    return fig


def _still(ax: Axes, still: media.Still, started_ms: int) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"+{(still.at_ms - started_ms) / 1000:.1f} s {still.layout}", fontsize=9)
    if still.image is None:
        ax.set_facecolor("#eeeeee")
        ax.text(0.5, 0.5, "gap: nothing recorded", ha="center", va="center",
                transform=ax.transAxes, color="red")
        return
    ax.imshow(still.image)
    for uid, rect in still.regions:
        colour = COLOURS(uid % 10)
        ax.add_patch(Rectangle((rect.x, rect.y), rect.width - 1, rect.height - 1, fill=False,
                               edgecolor=colour, linewidth=1.5, label=f"uid {uid}"))
        ax.text(rect.x + 3, rect.y + 3, f"uid {uid}", color="white", fontsize=7, va="top",
                bbox={"facecolor": colour, "alpha": 0.7, "pad": 1, "linewidth": 0})


def audio_levels(session: Session, storage: Path | str) -> Figure:
    """Individual mode: each user's audio level over time (dBFS)."""
    levels = media.audio_levels(session, storage)
    fig, ax = plt.subplots(figsize=(10, 3))
    for uid, mine in levels.groupby("uid"):
        ax.plot(mine.t_s, mine.dbfs, label=f"uid {uid}", linewidth=0.8)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("level (dBFS)")
    ax.set_title(f"{session.cname}: audio level per user")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def latencies(uploads: pd.DataFrame, slices: pd.DataFrame) -> Figure:
    """Histograms: upload latency (written → in storage) and slice lateness (media end → in
    storage), from `Session.uploads()`/`slices()` or the fleet's."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3))
    _histogram(left, uploads.get("latency_s", pd.Series(dtype=float)), "upload latency (s)")
    lateness = slices.get("lateness_ms", pd.Series(dtype=float)) / 1000
    _histogram(right, lateness, "slice lateness (s)")
    fig.tight_layout()
    return fig


def histogram(values: pd.Series, title: str) -> Figure:
    """One histogram (e.g. `fleet.callback_lag(log).latency_ms / 1000`)."""
    fig, ax = plt.subplots(figsize=(6, 3))
    _histogram(ax, values, title)
    fig.tight_layout()
    return fig


def _histogram(ax: Axes, values: pd.Series, title: str) -> None:
    values = values.dropna().astype(float)
    ax.hist(values, bins=20, label=title, color="#4c72b0")
    summary = f": n={len(values)}, median {values.median():.2f}" if len(values) else ": none"
    ax.set_title(title + summary)
    ax.set_ylabel("count")


def states(frame: pd.DataFrame) -> Figure:
    """Sessions by state over time (the DataFrame of `fleet.states_over_time`)."""
    fig, ax = plt.subplots(figsize=(10, 3))
    for state in frame.columns:
        ax.step(frame.index, frame[state], where="post", label=state)
    ax.set_ylabel("sessions")
    ax.set_title("sessions by state")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return fig


def bars(counts: pd.Series, title: str) -> Figure:
    """A horizontal bar per label: errors/warnings by code, sessions per channel, ..."""
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(counts) + 1.2))
    ax.barh([str(label) for label in counts.index], counts.to_numpy(), label=title)
    ax.invert_yaxis()
    ax.set_title(title if len(counts) else f"{title}: none")
    fig.tight_layout()
    return fig
