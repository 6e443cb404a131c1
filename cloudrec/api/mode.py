"""Recording modes and the request combinations each accepts (spec §5 compatibility rules).

Only ``mix`` is served for now; ``individual`` and ``web`` are recognised and answered with
code 2 "mode not supported yet". The request models stay general so those modes only need
their own rule function here.
"""

from __future__ import annotations

from cloudrec.api.errors import ApiError
from cloudrec.api.requests import StartRequest, UpdateRequest
from cloudrec.api.resource import ResourceGrant

MODES = ("individual", "mix", "web")
SERVED_MODES = ("mix",)
REAL_TIME_SCENE = 0


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ApiError(2, "mode must be one of individual, mix, web")
    if mode not in SERVED_MODES:
        raise ApiError(2, "mode not supported yet")


def check_mix_start(grant: ResourceGrant, request: StartRequest) -> None:
    """What a composite recording may carry beyond the per-field rules of the models."""
    options = request.client_request
    if grant.scene != REAL_TIME_SCENE:
        raise ApiError(2, "mix mode needs a resourceId acquired with scene 0")
    if options.recording_config is None:
        raise ApiError(2, "clientRequest.recordingConfig is required")
    if options.recording_config.stream_mode is not None:
        raise ApiError(2, "recordingConfig.streamMode is individual-mode only")
    if options.snapshot_config is not None:
        raise ApiError(2, "snapshotConfig is individual-mode only")
    if options.extension_service_config is not None or options.transcode_options is not None:
        raise ApiError(2, "extension services and transcodeOptions are not supported yet")
    if (options.apps_collection or {}).get("combinationPolicy", "default") != "default":
        raise ApiError(2, "postponed transcoding is individual-mode only")


def check_mix_update(request: UpdateRequest) -> None:
    options = request.client_request
    if options.web_recording_config is not None or options.rtmp_publish_config is not None:
        raise ApiError(2, "webRecordingConfig and rtmpPublishConfig are web-mode only")
