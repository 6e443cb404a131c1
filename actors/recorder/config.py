"""What a recorder generation is asked to do: a validated, secret-free recording config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cloudrec.actors.channel.encryption import MediaKey
from cloudrec.actors.uploader.destination import Destination
from cloudrec.events.layout import Layout
from cloudrec.events.subscription import UidLists

ALL = "#allstream#"
SECRETS = ("storage", "media_key")  # RecordingConfig fields never written to the log
AUDIO_ONLY, VIDEO_ONLY = 0, 1


@dataclass(frozen=True)
class Subscription:
    """Allow-list (`only`) or deny-list (`never`) of uids for one media kind; both None = all."""

    only: frozenset[int] | None = None
    never: frozenset[int] = frozenset()
    enabled: bool = True

    def wants(self, uid: int) -> bool:
        if not self.enabled or uid in self.never:
            return False
        return self.only is None or uid in self.only


@dataclass(frozen=True)
class RecordingConfig:
    sid: str
    appid: str
    cname: str
    recorder_uid: int
    generation: int
    workdir: Path
    mode: str = "mix"  # "mix" (composite) or "individual" (one remuxed recording per stream)
    stream_types: int = 2  # 0 audio only, 1 video only, 2 both (§5.1)
    channel_type: int = 0  # 0 communication, 1 live broadcast: what idle means (§2.3)
    width: int = 360
    height: int = 640
    fps: int = 15
    bitrate_kbps: int = 500
    audio_profile: int = 0
    av_file_types: tuple[str, ...] = ("hls",)
    file_prefix: tuple[str, ...] = ()
    layout: Layout = field(default_factory=Layout)
    audio: Subscription = field(default_factory=Subscription)
    video: Subscription = field(default_factory=Subscription)
    max_idle_s: int = 30
    expires_at_ms: int | None = None  # start + resourceExpiredHour: stopped as by `stop` then
    slice_seconds: float = 15.0
    jitter_ms: int = 300
    max_users: int = 17
    snapshot_interval_s: int = 0  # individual mode: a JPG of each user's video this often (§5.3)
    video_stream_type: int = 0  # §5.1: the video layer it subscribes to, 0 high, 1 low (small)
    decryption_mode: int = 0  # §5.1: 0 clear media, 1..8 packets are decrypted with media_key
    # the decryption secret and salt: for the recorder only, never in the log (None = none, or
    # lost: a controller restarted without its key file, `actors/session/keys.py`)
    media_key: MediaKey | None = field(default=None, repr=False, compare=False)
    # the customer's bucket and keys: for the uploader only (None = the server's file storage)
    storage: Destination | None = field(default=None, repr=False, compare=False)

    @property
    def record_files(self) -> bool:
        """False for snapshots only (§5.3): no file types, no audio/video files."""
        return bool(self.av_file_types)


def to_plan(config: RecordingConfig) -> dict[str, Any]:
    """The config as JSON data for the log (`RecordingPlanned`), without the storage keys and
    the decryption secret."""
    plan = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in SECRETS}
    plan.update(workdir=str(config.workdir), av_file_types=list(config.av_file_types),
                file_prefix=list(config.file_prefix), layout=config.layout.model_dump(),
                audio=_rule_data(config.audio), video=_rule_data(config.video))
    return plan


def from_plan(plan: Mapping[str, Any]) -> RecordingConfig:
    """The config `to_plan` wrote (storage None: the uploader holds it; media_key None: the
    supervisor's key file does)."""
    known = {f.name for f in fields(RecordingConfig)}
    values = {k: v for k, v in plan.items() if k in known}
    values.update(workdir=Path(plan["workdir"]), av_file_types=tuple(plan["av_file_types"]),
                  file_prefix=tuple(plan["file_prefix"]), layout=Layout(**plan["layout"]),
                  audio=_rule(plan["audio"]), video=_rule(plan["video"]))
    return RecordingConfig(**values)


def _rule_data(rule: Subscription) -> dict[str, Any]:
    only = None if rule.only is None else sorted(rule.only)
    return {"only": only, "never": sorted(rule.never), "enabled": rule.enabled}


def _rule(data: Mapping[str, Any]) -> Subscription:
    only = data.get("only")
    return Subscription(only=None if only is None else frozenset(only),
                        never=frozenset(data.get("never", ())), enabled=data.get("enabled", True))


def _lists_rule(lists: UidLists | None, enabled: bool) -> Subscription:
    allow, deny = (lists.subscribe, lists.unsubscribe) if lists else (None, None)
    only = None if allow is None or ALL in allow else frozenset(int(u) for u in allow)
    return Subscription(only=only, never=frozenset(int(u) for u in deny or ()), enabled=enabled)


def rules(stream_types: int, audio: UidLists | None,
          video: UidLists | None) -> tuple[Subscription, Subscription]:
    """Audio and video rules from each medium's lists (None: none given). No list at all
    subscribes to everything; only an audio list means no video, and vice versa (§5.1)."""
    audio_on = stream_types != VIDEO_ONLY and (audio is not None or video is None)
    video_on = stream_types != AUDIO_ONLY and (video is not None or audio is None)
    return _lists_rule(audio, audio_on), _lists_rule(video, video_on)
