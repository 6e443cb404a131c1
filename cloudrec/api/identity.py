"""User ids and channel names as the API accepts them (spec §1.3, §2.1, §11)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_UID = 4_294_967_295
ALL_STREAMS = "#allstream#"
CNAME_ERROR = "cname_invalid"

_UID = re.compile(r"[1-9][0-9]{0,9}")
_CNAME = re.compile(r"[a-zA-Z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]{1,64}")
_WEB_CNAME_BYTES = 128


def is_uid(text: str) -> bool:
    """A decimal string of 1..4294967295 without leading zeros (one spelling per user)."""
    return _UID.fullmatch(text) is not None and int(text) <= MAX_UID


def check_uid(text: str) -> str:
    if not is_uid(text):
        raise PydanticCustomError("uid_invalid", "uid must be a decimal string of 1..4294967295")
    return text


def check_uid_or_all(text: str) -> str:
    return text if text == ALL_STREAMS else check_uid(text)


def check_cname(cname: str, *, web: bool = False) -> str:
    """Channel names: 89 allowed characters, ≤64 bytes; in web mode a label of ≤128 bytes."""
    if web:
        valid = 0 < len(cname.encode()) <= _WEB_CNAME_BYTES
    else:
        valid = _CNAME.fullmatch(cname) is not None
    if not valid:
        raise PydanticCustomError(CNAME_ERROR, "invalid channel name")
    return cname


# The JSON schemas published in /openapi.json; the validators above stay the rule.
_UID_SCHEMA = {"type": "string", "pattern": "^[1-9][0-9]{0,9}$",
               "description": "decimal string of 1..4294967295"}
_LISTED_UID_SCHEMA = {"type": "string", "pattern": f"^([1-9][0-9]{{0,9}}|{ALL_STREAMS})$",
                      "description": f"decimal string of 1..4294967295, or {ALL_STREAMS}"}
_CNAME_SCHEMA = {"type": "string", "pattern": f"^{_CNAME.pattern}$",
                 "description": "channel name: the 89 allowed characters, at most 64 bytes "
                                "(web mode and scene 1: any label of at most 128 bytes)"}

Uid = Annotated[str, AfterValidator(check_uid), WithJsonSchema(_UID_SCHEMA)]
SubscribedUid = Annotated[str, AfterValidator(check_uid_or_all), WithJsonSchema(_LISTED_UID_SCHEMA)]
Cname = Annotated[str, WithJsonSchema(_CNAME_SCHEMA)]  # checked by check_cname with the mode
