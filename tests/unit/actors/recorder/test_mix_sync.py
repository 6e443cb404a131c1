"""Sync in the composite (P5): flashes and beeps stay within 40 ms of each other for 10 minutes.

What is tried (the composite core on a simulated clock, `sync.record_mix`): sync publishers that
flash their picture white and beep at the same media instant once a second, recorded in `mix`
mode for 10 minutes of channel time into one MP4. Once one publisher alone; once four of them,
each bound to a quadrant, joining 0, 2.37, 5.61 and 8.13 s into the recording (so their flashes
fall at different phases of the 15 fps output clock), the third's audio reaching the channel
200 ms after its video and the fourth's video 150 ms after its audio. What is checked: in the
decoded MP4, every second of every user has its flash in the user's quadrant, and the beep onset
nearest to each flash is within 40 ms of it, from the first minute to the last (no drift).

The 10-minute runs take about a minute of CPU: they are `slow`, out of `make test-unit`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .sync import Offsets, User, offsets, record_mix

pytestmark = pytest.mark.slow

MINUTES = 10
LIMIT_MS = 40.0


def check(result: Offsets, users: list[User]) -> None:
    for user in users:
        pairs = result.pairs[user.uid]
        expected = MINUTES * 60 - user.start_s
        assert len(pairs) >= expected - 2, f"uid {user.uid}: {len(pairs)} flashes"
        late = [(round(f, 3), round((b - f) * 1000)) for f, b in pairs
                if abs(b - f) * 1000 > LIMIT_MS]
        assert not late, f"uid {user.uid}: flash and beep apart (s, ms): {late[:10]}"
        assert pairs[-1][0] > MINUTES * 60 - 2, "the recording's last minute was measured"


def test_one_publisher_stays_in_sync_for_ten_minutes(tmp_path: Path) -> None:
    users = [User(1, start_s=0.0)]
    result = offsets(record_mix(users, MINUTES * 60 + 0.5, tmp_path), users)
    check(result, users)


def test_four_publishers_joining_apart_with_uneven_delays_stay_in_sync(tmp_path: Path) -> None:
    users = [User(1, 0.0), User(2, 2.37), User(3, 5.61, audio_delay_ms=200),
             User(4, 8.13, video_delay_ms=150)]
    result = offsets(record_mix(users, MINUTES * 60 + 0.5, tmp_path), users)
    check(result, users)
    assert result.worst_ms() <= LIMIT_MS
