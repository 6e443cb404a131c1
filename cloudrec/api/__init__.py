"""The Agora-Cloud-Recording-compatible REST layer: ``create_app(backend, settings)``."""

from cloudrec.api.app import create_app
from cloudrec.api.auth import Customer
from cloudrec.api.backend import RecordingBackend
from cloudrec.api.errors import ApiError
from cloudrec.api.requests import (
    AcquireRequest,
    StartRequest,
    StopRequest,
    UpdateLayoutRequest,
    UpdateRequest,
)
from cloudrec.api.resource import ResourceGrant
from cloudrec.api.settings import ApiSettings

__all__ = [
    "AcquireRequest", "ApiError", "ApiSettings", "Customer", "RecordingBackend",
    "ResourceGrant", "StartRequest", "StopRequest", "UpdateLayoutRequest", "UpdateRequest",
    "create_app",
]
