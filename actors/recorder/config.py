"""What a recorder generation is asked to do: a validated, secret-free recording config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cloudrec.actors.uploader.destination import Destination
from cloudrec.events.layout import Layout


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
    # the customer's bucket and keys: for the uploader only (None = the server's file storage)
    storage: Destination | None = field(default=None, repr=False, compare=False)
