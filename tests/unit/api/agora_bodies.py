"""Hypothesis strategies for Agora request bodies: the right shape, random values.

Values are drawn mostly from inside the documented ranges (spec §5, §6, §7, §11) with edges
and a share of out-of-range ones, so a body is sometimes accepted and sometimes refused for
one or several reasons at once: the fuzzer reaches the backend and every validator.
"""

from __future__ import annotations

import json
import string

from hypothesis import strategies as st

MAX_UID = 4_294_967_295
CNAME_ALPHABET = string.ascii_letters + string.digits + " !#$%&()+-:;<=.>?@[]^_{}|~,"


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """Each strategy drawn ``weight`` times in ``sum(weights)`` (``one_of`` dedups repeats)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def sometimes(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly ``valid``, one draw in twenty from ``invalid`` (a body has ~30 such values)."""
    return weighted((19, valid), (1, invalid))


def rare(part: st.SearchStrategy) -> st.SearchStrategy:
    """A part that is usually refused in combination (mode-only fields): one body in eight."""
    return weighted((7, st.just({})), (1, part))


def uids() -> st.SearchStrategy:
    valid = st.integers(1, MAX_UID).map(str)
    return sometimes(valid, st.sampled_from(["0", "-1", "abc", "01", str(MAX_UID + 1), ""]))


def cnames() -> st.SearchStrategy:
    valid = st.text(CNAME_ALPHABET, min_size=1, max_size=64)
    return sometimes(valid, st.text(max_size=70))


def optional(values: st.SearchStrategy, key: str) -> st.SearchStrategy:
    """``{key: value}`` half the time, else ``{}`` (absent) or, one time in six, a null."""
    return weighted((3, values.map(lambda v: {key: v})), (2, st.just({})),
                    (1, st.just({key: None})))


def merged(*parts: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(*parts).map(lambda dicts: {k: v for d in dicts for k, v in d.items()})


def in_range(low: int, high: int) -> st.SearchStrategy:
    return sometimes(st.integers(low, high), st.integers(low - 5, high + 5) | st.text(max_size=3))


def uid_lists() -> st.SearchStrategy:
    listed = st.one_of(uids(), st.just("#allstream#"))
    return sometimes(st.lists(listed, min_size=1, max_size=32), st.lists(listed, max_size=40))


def regions() -> st.SearchStrategy:
    unit = sometimes(st.floats(0, 1), st.floats(-1, 2, allow_nan=False) | st.integers(0, 1))
    return merged(optional(uids(), "uid"), *[unit.map(lambda v, k=k: {k: v})
                                            for k in ("x_axis", "y_axis", "width", "height")],
                  optional(unit, "alpha"), optional(in_range(0, 1), "render_mode"))


def image_urls() -> st.SearchStrategy:
    return sometimes(st.sampled_from(["https://example.com/a.jpg", "http://h/b.bmp"]),
                     st.text(max_size=20))


def custom_or_not() -> st.SearchStrategy:
    """``mixedVideoLayout`` 3 with regions, another layout without, rarely a mismatch."""
    region_list = st.lists(regions(), min_size=1, max_size=17).map(lambda r: {"layoutConfig": r})
    custom = region_list.map(lambda r: r | {"mixedVideoLayout": 3})
    builtin = optional(st.integers(0, 2), "mixedVideoLayout")
    mismatch = merged(optional(in_range(0, 4), "mixedVideoLayout"),
                      optional(st.lists(regions(), max_size=18), "layoutConfig"))
    return weighted((1, custom), (2, builtin), (1, mismatch))


def layouts() -> st.SearchStrategy:
    """The layout fields of transcodingConfig and updateLayout (§5.1, §7)."""
    color = sometimes(st.from_regex(r"#[0-9A-Fa-f]{6}", fullmatch=True), st.text(max_size=8))
    backgrounds = st.lists(st.fixed_dictionaries(
        {"uid": uids(), "image_url": image_urls()}, optional={"render_mode": in_range(0, 1)}),
        max_size=18)
    return merged(custom_or_not(),
                  optional(uids(), "maxResolutionUid"), optional(color, "backgroundColor"),
                  optional(image_urls(), "backgroundImage"),
                  optional(image_urls(), "defaultUserBackgroundImage"),
                  optional(backgrounds, "backgroundConfig"))


def transcodings() -> st.SearchStrategy:
    sides = sometimes(st.integers(8, 960).map(lambda n: 2 * n), st.integers(-2, 4000))
    output = st.fixed_dictionaries({"width": sides, "height": sides,
                                    "fps": st.integers(-1, 120), "bitrate": in_range(1, 6500)})
    return merged(output, layouts())


def recording_configs() -> st.SearchStrategy:
    numbers = {"channelType": (0, 1), "videoStreamType": (0, 1), "maxIdleTime": (5, 2_592_000),
               "subscribeUidGroup": (0, 5)}
    mix_only = {"audioProfile": (0, 2)}
    crossed = {"streamTypes": (0, 2), "decryptionMode": (0, 8)}  # need lists / keys to match
    lists = ["subscribeAudioUids", "unSubscribeAudioUids", "unsubscribeAudioUids",
             "subscribeVideoUids", "unSubscribeVideoUids", "unsubscribeVideoUids"]
    private = sometimes(st.just(json.dumps({"correctEXTINF": True})), st.text(max_size=10))
    return merged(*[optional(in_range(*bounds), key) for key, bounds in numbers.items()],
                  *[rare(optional(in_range(*bounds), key)) for key, bounds in crossed.items()],
                  *[rare(optional(uid_lists(), key)) for key in lists],
                  optional(st.text(max_size=40), "secret"),
                  optional(st.sampled_from(["QUJD" * 10 + "QUJDRA==", "bm90IDMyIGJ5dGVz"]),
                           "salt"),
                  rare(optional(st.sampled_from(["default", "standard", "original", "x"]),
                                "streamMode")),
                  weighted((1, merged(*[optional(in_range(*b), k) for k, b in mix_only.items()],
                                      optional(transcodings(), "transcodingConfig"))),
                           (2, st.just({}))),
                  optional(private, "privateParams"))


def storage_configs() -> st.SearchStrategy:
    prefix_part = sometimes(st.text(string.ascii_letters + string.digits, min_size=1,
                                    max_size=40), st.text(max_size=5))
    return st.fixed_dictionaries({
        "vendor": sometimes(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 11]),
                            st.integers(-1, 20)),
        "region": in_range(0, 27),
        "bucket": sometimes(st.text(min_size=1, max_size=63), st.just("")),
        "accessKey": st.text(max_size=20), "secretKey": st.text(max_size=20),
    }, optional={"fileNamePrefix": st.lists(prefix_part, max_size=6),
                 "extensionParams": st.fixed_dictionaries(
                     {}, optional={"sse": st.sampled_from(["kms", "aes256", "x"]),
                                   "tag": st.text(max_size=10)})})


def start_options() -> st.SearchStrategy:
    kinds = sometimes(st.sampled_from([["hls"], ["hls", "mp4"], ["mp4", "hls"]]),
                      st.lists(st.sampled_from(["hls", "mp4", "HLS", "webm"]), max_size=3))
    snapshot = st.fixed_dictionaries({"captureInterval": in_range(1, 3600),
                                      "fileType": st.just(["jpg"])})
    return merged(optional(st.text(max_size=30), "token"),
                  optional(recording_configs(), "recordingConfig"),
                  optional(kinds.map(lambda k: {"avFileType": k}), "recordingFileConfig"),
                  optional(storage_configs(), "storageConfig"),
                  rare(optional(st.sampled_from([{"combinationPolicy": "default"},
                                                 {"combinationPolicy": "postpone_transcoding"}]),
                                "appsCollection")),
                  rare(snapshot.map(lambda s: {"snapshotConfig": s})))


def stream_subscriptions() -> st.SearchStrategy:
    audio = merged(optional(uid_lists(), "subscribeAudioUids"),
                   rare(optional(uid_lists(), "unSubscribeAudioUids")))
    video = merged(rare(optional(uid_lists(), "subscribeVideoUids")),
                   optional(uid_lists(), "unsubscribeVideoUids"))
    return merged(optional(audio, "audioUidList"), optional(video, "videoUidList"))


def update_options() -> st.SearchStrategy:
    return merged(optional(stream_subscriptions(), "streamSubscribe"),
                  rare(st.just({"webRecordingConfig": {"onhold": True}})))
