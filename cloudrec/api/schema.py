"""The base of every request model: the JSON conventions all bodies share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """Strict JSON types (ids are strings, numbers are numbers), exact field names, frozen.

    Unknown fields are ignored, as the original service does, so clients that send later
    additions keep working.
    """

    model_config = ConfigDict(strict=True, frozen=True, allow_inf_nan=False, extra="ignore")
