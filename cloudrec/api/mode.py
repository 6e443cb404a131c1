"""Recording modes and the request combinations each accepts (spec §5 compatibility rules).

``mix`` and ``individual`` are served; ``web`` is recognised and answered with code 2 "mode not
supported yet". The request models stay general: each mode has its own rule function here, and
`check_start` / `check_update` / `check_update_layout` pick it by the path's mode.
"""

from __future__ import annotations

import json
from typing import Any

from cloudrec.actors.channel.encryption import sm4_available
from cloudrec.api.body import parse_body
from cloudrec.api.errors import ApiError
from cloudrec.api.requests import (
    AcquireRequest,
    StartOptions,
    StartRequest,
    StopRequest,
    UpdateRequest,
)
from cloudrec.api.resource import ResourceGrant

MODES = ("individual", "mix", "web")
SERVED_MODES = ("individual", "mix")
REAL_TIME_SCENE = 0
WEB_SCENE = 1
SM4_ECB = 4  # decryptionMode
MAX_CARRIED_REASON = 160  # characters of a startParameter error carried in the resourceId


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ApiError(2, "mode must be one of individual, mix, web")
    if mode not in SERVED_MODES:
        raise ApiError(2, "mode not supported yet")


def check_acquire(request: AcquireRequest, regions: frozenset[str]) -> None:
    """acquire's placement options: `region` restricts the recording to an area, so it must be
    one this deployment serves (its operator says which: CLOUDREC_REGIONS / `serve --regions`,
    all four by default); the others are refused, never ignored: a self-hosted cloudrec cannot
    place a recorder away from other resources."""
    options = request.client_request
    if options.region is not None and options.region not in regions:
        raise ApiError(2, f"clientRequest.region {options.region}: this cloudrec serves "
                          f"{', '.join(sorted(regions))} only")
    if options.exclude_resource_ids:
        raise ApiError(2, "clientRequest.excludeResourceIds is not supported: this cloudrec "
                          "cannot place a recorder away from other resources")
    if options.region_affinity:
        raise ApiError(2, "clientRequest.regionAffinity is not supported: this cloudrec "
                          "records where it is deployed")


def start_parameter_error(parameter: dict[str, Any] | None) -> str:
    """Why acquire's `startParameter` is not a valid `start` clientRequest ("" when it is, or
    is absent). acquire does not fail on it (§4): the reason travels in the resourceId and
    `start` fails with it."""
    if parameter is None:
        return ""
    try:
        parse_body(json.dumps(parameter).encode(), StartOptions, None, 2)
    except ApiError as error:
        return error.reason[:MAX_CARRIED_REASON]
    return ""


def check_start(mode: str, grant: ResourceGrant, request: StartRequest) -> None:
    """The combination rules of the path's mode (after `check_mode`)."""
    if grant.start_parameter_error:
        raise ApiError(2, f"startParameter of acquire is invalid: {grant.start_parameter_error}")
    check_served_media_options(request)
    if mode == "individual":
        check_individual_start(grant, request)
    else:
        check_mix_start(grant, request)


def check_update(mode: str, request: UpdateRequest) -> None:
    check_mix_update(request)  # the same rules: streamSubscribe only, no web-mode parts


def check_stop(request: StopRequest) -> None:
    """`async_stop` true asks for an answer before the uploads end; cloudrec's stop always
    answers once they have, so it is refused rather than ignored."""
    if request.client_request.async_stop:
        raise ApiError(2, "clientRequest.async_stop true is not supported: stop answers once "
                          "every file is uploaded (send false or leave it out)")


def check_update_layout(mode: str) -> None:
    """`updateLayout` is mix only (§7): there is no layout to update in individual mode."""
    if mode != "mix":
        raise ApiError(2, "updateLayout is mix-mode only")


def check_served_media_options(request: StartRequest) -> None:
    """Options the spec defines that cloudrec cannot honour yet are refused, never ignored:
    SM4 decryption on a machine whose cryptography library has no SM4."""
    recording = request.client_request.recording_config
    if recording is None:
        return
    check_decryption(recording.decryption_mode)


def check_decryption(mode: int) -> None:
    """Modes 1..8 are served (the models check the secret and salt), SM4 only where the
    cryptography library on this machine has it."""
    if mode == SM4_ECB and not sm4_available():
        raise ApiError(2, "decryptionMode 4 (SM4_128_ECB) is not supported on this server: "
                          "its cryptography library has no SM4")


def check_individual_start(grant: ResourceGrant, request: StartRequest) -> None:
    """What an individual recording may carry (§5, §5.1, §5.2, §16)."""
    options = request.client_request
    recording = options.recording_config
    if grant.scene == WEB_SCENE:
        raise ApiError(2, "individual mode needs a resourceId acquired with scene 0 "
                          "(scene 1 is for web page recording)")
    if grant.scene != REAL_TIME_SCENE:
        raise ApiError(2, "individual mode with postponed transcoding is not supported yet")
    if recording is None:
        raise ApiError(2, "clientRequest.recordingConfig is required")
    # spec decision 12: a missing subscribeUidGroup means 0 (Agora's own Go client omits zeros)
    if recording.audio_profile is not None or recording.transcoding_config is not None:
        raise ApiError(2, "audioProfile and transcodingConfig are mix-mode only")
    if options.recording_file_config.mp4:
        raise ApiError(2, "avFileType mp4 is mix- and web-mode only")
    if recording.stream_mode not in (None, "default"):
        raise ApiError(2, "recordingConfig.streamMode standard and original are not supported yet")
    if options.snapshot_config is not None:
        if recording.stream_types == 0:
            raise ApiError(2, "snapshotConfig needs streamTypes 1 or 2 (video)")
        if recording.has_audio_list and not recording.has_video_list:
            raise ApiError(2, "snapshotConfig with an audio subscription list needs a video "
                              "subscription list too")
    if options.extension_service_config is not None or options.transcode_options is not None:
        raise ApiError(2, "extension services and transcodeOptions are not supported yet")
    if options.apps_collection and options.apps_collection.combination_policy != "default":
        raise ApiError(2, "postponed transcoding is not supported yet")


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
    if options.apps_collection and options.apps_collection.combination_policy != "default":
        raise ApiError(2, "postponed transcoding is individual-mode only")


def check_mix_update(request: UpdateRequest) -> None:
    options = request.client_request
    if options.web_recording_config is not None or options.rtmp_publish_config is not None:
        raise ApiError(2, "webRecordingConfig and rtmpPublishConfig are web-mode only")
