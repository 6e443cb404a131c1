"""Reading a request body into a request model, with the service's error codes.

* wrong ``Content-Type`` or a body that is not JSON → code 8 (spec §1.3); ``application/json``
  is accepted with or without ``charset=utf-8``, in any letter case;
* a channel-name violation → code 1013; any other violation → the endpoint's code
  (2, or 1028 for ``updateLayout``, where every body error is 1028).

Reasons name the offending field by its JSON path but never echo the submitted value, so
secrets cannot leak into error bodies.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cloudrec.api.errors import TOO_LARGE, ApiError, GatewayError
from cloudrec.api.identity import CNAME_ERROR

Model = TypeVar("Model", bound=BaseModel)
INVALID_PARAMETER = 2
INVALID_CHANNEL_NAME = 1013


def is_json_content_type(header: str | None) -> bool:
    if header is None:
        return False
    media_type, *params = [part.strip().lower() for part in header.split(";")]
    charsets = [p.partition("=")[2].strip('"') for p in params if p.startswith("charset")]
    return media_type == "application/json" and all(c in ("utf-8", "utf8") for c in charsets)


async def read_body(request: Request, max_bytes: int) -> bytes:
    if not is_json_content_type(request.headers.get("content-type")):
        raise ApiError(8, "Content-Type must be application/json;charset=utf-8")
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > max_bytes:
        raise GatewayError(413, TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():  # a chunked body has no Content-Length to check
        body += chunk
        if len(body) > max_bytes:
            raise GatewayError(413, TOO_LARGE)
    return bytes(body)


def parse_body(body: bytes, model: type[Model], mode: str | None, invalid_code: int) -> Model:
    try:
        return model.model_validate_json(body, strict=True, context={"mode": mode})
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise _body_error(errors, invalid_code) from None


def _body_error(errors: list[ErrorDetails], invalid_code: int) -> ApiError:
    if any(e["type"] == "json_invalid" for e in errors):
        return ApiError(8, "request body is not valid JSON")
    cname_errors = [e for e in errors if e["type"] == CNAME_ERROR]
    if cname_errors and invalid_code == INVALID_PARAMETER:
        return ApiError(INVALID_CHANNEL_NAME, "invalid channel name")
    return ApiError(invalid_code, "; ".join(_describe(e) for e in (cname_errors or errors)[:3]))


def _describe(error: ErrorDetails) -> str:
    path = ".".join(str(part) for part in error["loc"]) or "body"
    message = error["msg"].removeprefix("Value error, ")
    return f"{path}: {message}"
