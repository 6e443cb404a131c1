"""Reading individual-mode playlists: sessions, users, and where each slice sits in UTC."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudrec.actors.recorder.playlist import Playlist
from cloudrec.tools.spans import Timeline, presence
from cloudrec.tools.tracks import (
    Slice,
    ToolError,
    find_sessions,
    missing,
    parse_utc17,
    read_slices,
)

from ..api.names import LEGAL_CNAMES

PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-ALLOW-CACHE:YES
#EXT-X-TARGETDURATION:5
#EXT-X-DISCONTINUITY
#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=AUDIO,TIME=20190920125142485
#EXTINF:4.500000,
renamed-a.ts
#EXTINF:4.000000,
renamed-b.ts
#EXT-X-DISCONTINUITY
#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=AUDIO,TIME=20190920125210000
#EXTINF:3.000000,
s__uid_e_audio_20190920125210020.ts
#EXT-X-ENDLIST
"""
START = parse_utc17("20190920125142485")


def test_slices_are_anchored_by_name_then_start_tag_then_previous_end(tmp_path: Path):
    path = tmp_path / "sid_room__uid_s_5__uid_e_audio.m3u8"
    path.write_text(PLAYLIST)
    starts = [s.start - START for s in read_slices(path)]
    assert starts == pytest.approx([0.0, 4.5, 27.535])


def test_a_first_slice_without_any_time_is_an_error(tmp_path: Path):
    path = tmp_path / "p.m3u8"
    path.write_text("#EXTM3U\n#EXTINF:2.0,\nx.ts\n")
    with pytest.raises(ToolError, match="cannot tell when x.ts starts"):
        read_slices(path)
    assert read_slices(path, strict=False)[0].start == 0.0


def test_sessions_join_failover_playlists_and_ignore_others(tmp_path: Path):
    (tmp_path / "sid_room__uid_s_5__uid_e_audio.m3u8").write_text(PLAYLIST)
    backup = PLAYLIST.replace("renamed-a.ts", "bak0_a_20190920125300000.ts")
    (tmp_path / "bak0_sid_room__uid_s_5__uid_e_audio.m3u8").write_text(backup)
    (tmp_path / "sid_room.m3u8").write_text(PLAYLIST)  # a composite playlist
    [session] = find_sessions(tmp_path)
    assert session.name == "sid_room" and list(session.users) == ["5"]
    assert len(session.users["5"].tracks["audio"]) == 4


@pytest.mark.parametrize("cname", LEGAL_CNAMES)
def test_slices_of_any_legal_channel_name_are_found_from_their_uris(tmp_path: Path, cname: str):
    names = [f"sid_{cname}__uid_s_5__uid_e_audio_{utc}.ts"
             for utc in ("20190920125142485", "20190920125146985")]
    playlist = Playlist()
    for name in names:
        (tmp_path / name).write_bytes(b"ts")
        playlist.add_segment(name, 4.5)
    (tmp_path / f"sid_{cname}__uid_s_5__uid_e_audio.m3u8").write_text(playlist.render(ended=True))
    [session] = find_sessions(tmp_path)
    slices = session.users["5"].tracks["audio"]
    assert session.name == f"sid_{cname}" and missing(slices) == []
    assert [s.path.name for s in slices] == names
    assert [s.start - START for s in slices] == pytest.approx([0.0, 4.5])


def test_timeline_drops_absence_and_maps_utc_onto_output_seconds():
    slices = [Slice(Path("a"), 100.0, 4.0), Slice(Path("b"), 104.001, 4.0),
              Slice(Path("c"), 130.0, 5.0)]
    spans = presence(slices)
    assert spans == [(100.0, 108.001), (130.0, 135.0)]
    timeline = Timeline(spans)
    assert timeline.duration == pytest.approx(13.001)
    assert timeline.position(131.0) == pytest.approx(9.001)
    assert timeline.position(120.0) is None
