"""A one-frame slice (a stop right after a cut) must open on its own in any player."""

from pathlib import Path

import av
import pytest

from cloudrec.actors.recorder.hls import PROBE_BYTES, TS_PACKET, pad_for_probing

SAMPLE = Path(__file__).parent / "data" / "two_frame_slice.ts"  # a real final slice, 8 packets


def test_a_tiny_slice_is_not_recognised_until_padded(tmp_path: Path) -> None:
    path = tmp_path / "tiny.ts"
    path.write_bytes(SAMPLE.read_bytes())
    assert path.stat().st_size < PROBE_BYTES
    with pytest.raises(av.error.FFmpegError):  # what a player opening it alone got
        with av.open(str(path)) as container:
            list(container.decode(video=0))
    pad_for_probing(path)
    assert path.stat().st_size % TS_PACKET == 0 and path.stat().st_size >= PROBE_BYTES
    with av.open(str(path)) as container:
        assert len(list(container.decode(video=0))) == 2


def test_a_slice_big_enough_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "big.ts"
    path.write_bytes(b"\x47" + b"\x00" * (PROBE_BYTES + 3))
    pad_for_probing(path)
    assert path.stat().st_size == PROBE_BYTES + 4
