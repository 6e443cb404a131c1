"""Events of what goes where on the canvas (stream id = sid).

`LayoutUpdated` v2 adds the background images (`background_image`,
`default_user_background_image`, `background_config`); a stored v1 payload has none and is
upcast by `upcast_layout_updated_v1`. Images travel as URLs: the recorder downloads them.
"""

from __future__ import annotations

from typing import Any, Literal

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


class UserBackground(BaseModel):
    """The picture shown in one user's region after 3.5 s without video (spec §12.6)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uid: int
    image_url: str
    render_mode: int = 0


class Layout(BaseModel):
    """The layout fields of transcodingConfig / updateLayout (full replacement semantics)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mixed_video_layout: int = 0
    max_resolution_uid: int | None = None
    background_color: str = "#000000"
    layout_config: list[LayoutRegion] | None = None
    background_image: str | None = None
    default_user_background_image: str | None = None
    background_config: list[UserBackground] | None = None

    def image_urls(self) -> list[str]:
        """Every image the layout names (the canvas's, the default user's, each user's)."""
        named = [self.background_image, self.default_user_background_image,
                 *(entry.image_url for entry in self.background_config or [])]
        return [url for url in named if url]

    def user_background(self, uid: int) -> UserBackground | None:
        """The `backgroundConfig` entry of `uid` (the first, if named twice)."""
        return next((e for e in self.background_config or [] if e.uid == uid), None)


class LayoutUpdated(Event):
    type: Literal["LayoutUpdated"] = "LayoutUpdated"
    schema_version: int = 2
    layout: Layout


class LayoutImageFailed(Event):
    """A layout image could not be downloaded or is not a JPG or BMP: the setting is ignored
    (spec §5.1) and reported as a warning (callback 2)."""

    type: Literal["LayoutImageFailed"] = "LayoutImageFailed"
    url: str
    reason: str


class LayoutV1(BaseModel):
    """`Layout` as `LayoutUpdated` v1 stored it: no background images."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mixed_video_layout: int = 0
    max_resolution_uid: int | None = None
    background_color: str = "#000000"
    layout_config: list[LayoutRegion] | None = None


class LayoutUpdatedV1(Event):
    """`LayoutUpdated` as version 1 stored it (never written today)."""

    type: Literal["LayoutUpdated"] = "LayoutUpdated"
    schema_version: Literal[1] = 1
    layout: LayoutV1


def upcast_layout_updated_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 had no background images: the new fields keep their defaults (none)."""
    return dict(payload, schema_version=2)
