"""``storageConfig``: where the recorder uploads files (spec §5.4)."""

from __future__ import annotations

from typing import Annotated, Literal, Self
from urllib.parse import parse_qsl

from pydantic import Field, SecretStr, field_validator, model_validator

from cloudrec.api.schema import ApiModel

# Highest documented region number per vendor; vendors 5..8 and 11 have no published table.
MAX_REGION_BY_VENDOR = {0: 4, 1: 25, 2: 27, 3: 19, 4: 9, 5: None, 6: None, 7: None, 8: None,
                        11: None}
MAX_PREFIX_CHARS = 128
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 10, 128, 256  # S3's object tagging limits
MAX_TAG_CHARS = 4 * MAX_TAGS * (MAX_TAG_KEY + MAX_TAG_VALUE + 2)  # percent-encoded UTF-8

PrefixPart = Annotated[str, Field(pattern=r"^[A-Za-z0-9]+$")]


class ObjectOptions(ApiModel):
    """``extensionParams``: server-side encryption and object tags."""

    sse: Literal["kms", "aes256"] | None = None
    tag: str | None = None

    @field_validator("tag")
    @classmethod
    def _object_tags(cls, tag: str | None) -> str | None:
        """An S3 tag set as a URL query (``k1=v1&k2=v2``) within S3's own limits: at most
        10 tags, keys of 1..128 and values of 0..256 characters, keys not repeated. A null
        tag is an absent one (found by the fuzzer: it was a 500)."""
        if tag is None:
            return None
        if len(tag) > MAX_TAG_CHARS:
            raise ValueError(f"extensionParams.tag must not exceed {MAX_TAG_CHARS} characters")
        try:
            pairs = parse_qsl(tag, keep_blank_values=True, strict_parsing=True,
                              max_num_fields=MAX_TAGS)
        except ValueError:
            raise ValueError("extensionParams.tag must be 'key=value' pairs joined by '&', "
                             f"at most {MAX_TAGS}") from None
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys) or not all(
                1 <= len(k) <= MAX_TAG_KEY and len(v) <= MAX_TAG_VALUE for k, v in pairs):
            raise ValueError(f"extensionParams.tag: distinct keys of 1..{MAX_TAG_KEY} and "
                             f"values of at most {MAX_TAG_VALUE} characters")
        return tag


class Storage(ApiModel):
    """A customer bucket; ``accessKey``/``secretKey`` are secrets and never printed."""

    vendor: int
    region: int = Field(ge=0)
    bucket: str = Field(min_length=1, max_length=255)
    access_key: SecretStr = Field(alias="accessKey", repr=False)
    secret_key: SecretStr = Field(alias="secretKey", repr=False)
    file_name_prefix: list[PrefixPart] | None = Field(None, alias="fileNamePrefix")
    extension_params: ObjectOptions | None = Field(None, alias="extensionParams")

    @model_validator(mode="after")
    def _known_vendor_region(self) -> Self:
        if self.vendor not in MAX_REGION_BY_VENDOR:
            raise ValueError(f"unknown storage vendor {self.vendor}")
        highest = MAX_REGION_BY_VENDOR[self.vendor]
        if highest is not None and self.region > highest:
            raise ValueError(f"region {self.region} is not defined for vendor {self.vendor}")
        return self

    @model_validator(mode="after")
    def _short_prefix(self) -> Self:
        if len(self.prefix) > MAX_PREFIX_CHARS:
            raise ValueError("fileNamePrefix joined with '/' must not exceed 128 characters")
        return self

    @property
    def prefix(self) -> str:
        """The directory prepended to every file name, e.g. ``"rec/room42"`` (may be empty)."""
        return "/".join(self.file_name_prefix or [])
