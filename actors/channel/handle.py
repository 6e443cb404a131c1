"""The one wrapper through which other code calls a channel actor (tests use a fake)."""

from __future__ import annotations

from typing import Any

import ray

from cloudrec.actors.channel.channel import Batch
from cloudrec.actors.channel.packet import HIGH, Kind, MediaPacket, TrackInfo


class ChannelHandle:
    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def join(self, uid: int) -> None:
        ray.get(self.actor.join.remote(uid))

    def leave(self, uid: int) -> None:
        ray.get(self.actor.leave.remote(uid))

    def publish(self, track: TrackInfo) -> TrackInfo:
        published: TrackInfo = ray.get(self.actor.publish.remote(track))
        return published

    def unpublish(self, uid: int, kind: Kind, layer: int | None = None) -> None:
        ray.get(self.actor.unpublish.remote(uid, kind, layer))

    def push(self, packets: list[MediaPacket]) -> int:
        kept: int = ray.get(self.actor.push.remote(packets))
        return kept

    def subscribe(self, subscriber_id: str, replay_from_us: int | None = None,
                  video_layer: int = HIGH) -> None:
        """`video_layer`: which video of dual-stream senders it receives (`layers.shown`)."""
        ray.get(self.actor.subscribe.remote(subscriber_id, replay_from_us, video_layer))

    def unsubscribe(self, subscriber_id: str) -> None:
        ray.get(self.actor.unsubscribe.remote(subscriber_id))

    def pull(self, subscriber_id: str) -> Batch:
        batch: Batch = ray.get(self.actor.pull.remote(subscriber_id))
        return batch
