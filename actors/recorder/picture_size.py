"""The picture size of a video stream's key frames, read without keeping a decoder.

Individual mode remuxes packets and never decodes them into its files, but a sender may change
its resolution mid-stream (new parameter sets on a key frame, same track), and the playlist must
say so (§13.2: `#EXT-X-DISCONTINUITY` and an `#EXT-X-AGORA-ROTATE` with the new size before the
first slice in it). So each key frame is decoded once, alone, by a fresh decoder: a key frame needs
no other picture, and one decode per key frame (seconds apart) is cheap beside the remux.
"""

from __future__ import annotations

import logging
from typing import cast

import av

from cloudrec.actors.channel.packet import MediaPacket, TrackInfo

log = logging.getLogger(__name__)
Size = tuple[int, int]


def key_frame_size(track: TrackInfo, packet: MediaPacket) -> Size | None:
    """The (width, height) of key frame `packet` of `track`; None if it does not decode."""
    # `create` is typed by codec-name literals; a track's codec is a run-time str
    context = cast(av.VideoCodecContext, av.CodecContext.create(track.codec, "r"))
    if track.extradata:
        context.extradata = track.extradata
    av_packet = av.Packet(packet.data)
    av_packet.pts = av_packet.dts = 0
    try:
        frames = [*context.decode(av_packet), *context.decode(None)]
    except (av.error.FFmpegError, ValueError) as error:
        log.debug("uid %s: key frame gives no size (%s)", packet.uid, error)
        return None
    picture = next((f for f in frames if isinstance(f, av.VideoFrame)), None)
    return (picture.width, picture.height) if picture is not None else None
