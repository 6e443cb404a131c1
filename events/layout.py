"""Events of what goes where on the canvas (stream id = sid)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from cloudrec.events.envelope import Event


class LayoutRegion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    uid: int | None = None
    x_axis: float
    y_axis: float
    width: float
    height: float
    alpha: float = 1.0
    render_mode: int = 0


class Layout(BaseModel):
    """The layout fields of transcodingConfig / updateLayout (full replacement semantics)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mixed_video_layout: int = 0
    max_resolution_uid: int | None = None
    background_color: str = "#000000"
    layout_config: list[LayoutRegion] | None = None


class LayoutUpdated(Event):
    type: Literal["LayoutUpdated"] = "LayoutUpdated"
    layout: Layout
