"""Which video layer of a dual-stream sender a subscriber receives (`videoStreamType`, §5.1).

A dual-stream sender publishes its video twice: the high (big) stream, layer `HIGH`, and the low
(small) stream, layer `LOW`, the same pictures at the same timestamps. A subscriber names the
layer it wants and receives that layer of every user's video. A user who publishes no low stream
is received in the high stream by a subscriber that wants the low one: as in Agora, the low
stream exists only for dual-stream senders, and a recording of the low streams still records
everyone. Audio has one layer. So a subscriber sees one track per user and kind, whatever the
senders publish.
"""

from __future__ import annotations

from collections.abc import Container

from cloudrec.actors.channel.packet import HIGH, Kind, MediaPacket, TrackInfo

LayerKey = tuple[int, Kind, int]  # (uid, kind, layer): one published track


def key_of(item: TrackInfo | MediaPacket) -> LayerKey:
    return item.uid, item.kind, item.layer


def shown(key: LayerKey, wanted: int, published: Container[LayerKey]) -> bool:
    """Whether a subscriber that wants video layer `wanted` receives the track `key`."""
    uid, kind, layer = key
    if layer == wanted or kind == "audio":
        return True
    return layer == HIGH and (uid, kind, wanted) not in published


def check_layer(track: TrackInfo) -> None:
    """Only video has a low layer."""
    if track.layer != HIGH and track.kind != "video":
        raise ValueError(f"uid {track.uid}: only video has layers, not {track.kind}")
