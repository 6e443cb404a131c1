"""The mixed-video picture: layout fields shared by ``transcodingConfig`` and ``updateLayout``.

Spec §5.1 (transcodingConfig), §7 (updateLayout), §11 (rules), §12.4 (custom layout).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator
from pydantic.config import JsonDict

from cloudrec.api.identity import Uid
from cloudrec.api.schema import ApiModel

STANDARD_FPS = frozenset({1, 7, 10, 15, 24, 30, 60})
DEFAULT_FPS = 15
MAX_SIDE = 1920
MAX_PIXELS = 1920 * 1080
MAX_BITRATE_KBPS = 6500
MAX_REGIONS = 17
CUSTOM_LAYOUT = 3
_EPSILON = 1e-6  # coordinates carry 6 decimals

Unit = Annotated[float, Field(ge=0, le=1)]
HexColor = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]
ImageUrl = Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2048)]


def fall_back_fps(fps: int) -> int:
    """Non-standard frame rates fall back to 15 (spec §11)."""
    return fps if fps in STANDARD_FPS else DEFAULT_FPS


class Region(ApiModel):
    """One ``layoutConfig`` entry: a user's rectangle, normalised to the canvas."""

    uid: Uid | None = None
    x_axis: Unit
    y_axis: Unit
    width: Unit
    height: Unit
    alpha: Unit = 1.0
    render_mode: int = Field(0, ge=0, le=1)

    @model_validator(mode="after")
    def _inside_canvas(self) -> Self:
        if self.x_axis + self.width > 1 + _EPSILON or self.y_axis + self.height > 1 + _EPSILON:
            raise ValueError("region must lie inside the canvas: x_axis+width<=1, y_axis+height<=1")
        return self


class UserBackground(ApiModel):
    """One ``backgroundConfig`` entry: the image shown in a user's region without video."""

    uid: Uid
    image_url: ImageUrl
    render_mode: int = Field(0, ge=0, le=1)


class Layout(ApiModel):
    """The layout fields; omitted fields mean their defaults (full replacement semantics)."""

    mixed_video_layout: int = Field(0, alias="mixedVideoLayout", ge=0, le=3)
    max_resolution_uid: Uid | None = Field(None, alias="maxResolutionUid")
    background_color: HexColor = Field("#000000", alias="backgroundColor")
    background_image: ImageUrl | None = Field(None, alias="backgroundImage")
    default_user_background_image: ImageUrl | None = Field(
        None, alias="defaultUserBackgroundImage"
    )
    layout_config: list[Region] | None = Field(
        None, alias="layoutConfig", min_length=1, max_length=MAX_REGIONS
    )
    background_config: list[UserBackground] | None = Field(
        None, alias="backgroundConfig", max_length=MAX_REGIONS
    )

    @model_validator(mode="after")
    def _custom_iff_regions(self) -> Self:
        custom = self.mixed_video_layout == CUSTOM_LAYOUT
        if custom != (self.layout_config is not None):
            raise ValueError("layoutConfig is required with mixedVideoLayout 3 and only then")
        return self


MIN_SIDE = 16  # the smallest canvas side cloudrec encodes
_SIDE_SCHEMA: JsonDict = {"minimum": MIN_SIDE, "multipleOf": 2}  # published; see _pixel_budget


class Transcoding(Layout):
    """``transcodingConfig``: the four output numbers are all required once it is present."""

    width: int = Field(gt=0, le=MAX_SIDE, json_schema_extra=_SIDE_SCHEMA)
    height: int = Field(gt=0, le=MAX_SIDE, json_schema_extra=_SIDE_SCHEMA)
    fps: Annotated[int, AfterValidator(fall_back_fps)]
    bitrate: int = Field(gt=0, le=MAX_BITRATE_KBPS)

    @model_validator(mode="after")
    def _pixel_budget(self) -> Self:
        if self.width * self.height > MAX_PIXELS:
            raise ValueError("width*height must not exceed 1920*1080")
        if self.width % 2 or self.height % 2 or min(self.width, self.height) < MIN_SIDE:
            # H.264 4:2:0 needs even sides; a recorder could not encode the canvas at all
            raise ValueError(f"width and height must be even and at least {MIN_SIDE}")
        return self


DEFAULT_TRANSCODING = Transcoding.model_validate(
    {"width": 360, "height": 640, "fps": DEFAULT_FPS, "bitrate": 500}
)
