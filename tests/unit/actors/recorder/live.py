"""A channel of synthetic users on a simulated clock, for driving a recorder core in tests."""

from __future__ import annotations

from cloudrec.actors.channel.channel import Channel
from cloudrec.actors.channel.synthetic import SyntheticPublisher, publisher_colors


def synthetic_channel(users: int, t0_us: int) -> tuple[dict[str, int], Channel,
                                                        list[SyntheticPublisher]]:
    """`users` synthetic publishers (uids 1..users, 160x90) with their tracks published in a
    channel whose clock is `clock["now"]` (starting at `t0_us`), subscribed to as "rec"."""
    clock = {"now": t0_us}
    channel = Channel(clock=lambda: clock["now"], share_publisher_offset=True)
    channel.subscribe("rec")
    looks = publisher_colors(users)
    sources = [SyntheticPublisher(i + 1, looks[i][0], looks[i][1], width=160, height=90)
               for i in range(users)]
    for source in sources:
        for track in source.tracks():
            channel.publish(track)
    return clock, channel, sources
