"""What a region shows while its user has no video (spec §12.6, the 3.5 s rule).

A user's region shows their video; once they have had none for more than 3.5 s (never sent
any since their region appeared, unpublished, or muted: the last frame is older than that), it
shows, in this order, the first of these that has been downloaded: the user's
`backgroundConfig` image (with its render_mode), `defaultUserBackgroundImage` (crop-fill, as
the canvas image), the canvas `backgroundImage` (the region is left empty and the canvas
shows). With none of them, the region keeps its user's last frame (native senders), or the
background colour when there never was one.
"""

from __future__ import annotations

from collections.abc import Iterable

import av

from cloudrec.actors.layout.geometry import CROP
from cloudrec.actors.recorder.images import ImageStore
from cloudrec.events.layout import Layout

NO_VIDEO_US = 3_500_000

Picture = tuple[av.VideoFrame | None, int]  # (frame or None for the background, render_mode)


class Placeholders:
    """Since when each drawn region has been there, and the picture the rule picks for it."""

    def __init__(self, images: ImageStore) -> None:
        self.images = images
        self._since: dict[int, int] = {}  # uid -> channel time its region was first drawn

    def keep(self, uids: Iterable[int]) -> None:
        """The regions of this picture: a user drawn again after a gap starts afresh."""
        drawn = set(uids)
        self._since = {uid: at for uid, at in self._since.items() if uid in drawn}

    def choose(self, layout: Layout, uid: int, video: Picture, shown_us: int | None,
               channel_us: int) -> Picture:
        """`video` (the user's frame and the region's render_mode), or what replaces it."""
        since = self._since.setdefault(uid, channel_us)
        last_us = since if shown_us is None else max(shown_us, since)
        if channel_us - last_us <= NO_VIDEO_US:
            return video
        image = self.user_image(layout, uid)
        if image is not None:
            return image
        if self.images.get(layout.background_image) is not None:
            return None, video[1]  # the canvas image shows through
        return video

    def user_image(self, layout: Layout, uid: int) -> Picture | None:
        """The user's own image, else the default user image, once downloaded."""
        entry = layout.user_background(uid)
        if entry is not None and (image := self.images.get(entry.image_url)) is not None:
            return image, entry.render_mode
        image = self.images.get(layout.default_user_background_image)
        return None if image is None else (image, CROP)
