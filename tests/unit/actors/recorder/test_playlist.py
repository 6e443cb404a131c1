import re

import pytest

from cloudrec.actors.recorder.naming import file_name, slice_name, track_slice_name
from cloudrec.actors.recorder.playlist import Playlist, segment_name, segment_uri

from ...api.names import LEGAL_CNAMES

T0 = 1568983902485  # 2019-09-20 12:51:42.485 UTC


def make() -> Playlist:
    playlist = Playlist()
    playlist.mark_track_start("VIDEO", T0)
    playlist.mark_track_start("AUDIO", T0 + 20)
    playlist.add_segment("s_20190920125142485.ts", 6.332)
    playlist.add_discontinuity()
    playlist.add_segment("s_20190920125149174.ts", 17.442)
    return playlist


def test_render_writes_header_tags_and_standard_extinf():
    assert make().render(ended=True).splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-ALLOW-CACHE:YES",
        "#EXT-X-TARGETDURATION:18",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20190920125142485",
        "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=AUDIO,TIME=20190920125142505",
        "#EXTINF:6.332000,",
        "s_20190920125142485.ts",
        "#EXT-X-DISCONTINUITY",
        "#EXTINF:17.442000,",
        "s_20190920125149174.ts",
        "#EXT-X-ENDLIST",
    ]


def test_endlist_only_when_ended():
    assert "#EXT-X-ENDLIST" not in make().render(ended=False)


def test_empty_playlist_renders_header_only():
    assert Playlist().render().splitlines()[-1] == "#EXT-X-TARGETDURATION:0"


def test_target_duration_is_ceiling_of_longest_segment():
    playlist = Playlist()
    playlist.add_segment("a.ts", 15.0)
    assert playlist.target_duration == 15
    playlist.add_segment("b.ts", 15.0000004)  # rounds to what is written
    assert playlist.target_duration == 15
    playlist.add_segment("c.ts", 15.019)
    assert playlist.target_duration == 16


def test_parse_round_trips():
    text = make().render(ended=True)
    parsed = Playlist.parse(text)
    assert parsed.ended
    assert [s.name for s in parsed.segments] == [s.name for s in make().segments]
    assert parsed.render(ended=True) == text


def test_parse_accepts_agora_extinf_without_comma_and_keeps_rotate_tags():
    text = "\n".join([
        "#EXTM3U", "#EXT-X-TARGETDURATION:7", "#EXT-X-DISCONTINUITY",
        "#EXT-X-AGORA-ROTATE:WIDTH=640,HEIGHT=480,ROTATE=0,TIME=20190920125142485",
        "#EXTINF:6.332000", "a.ts",
    ])
    segment, = Playlist.parse(text).segments
    assert (segment.duration, segment.discontinuity) == (6.332, True)
    assert segment.tags == [
        "#EXT-X-AGORA-ROTATE:WIDTH=640,HEIGHT=480,ROTATE=0,TIME=20190920125142485"
    ]


def test_continuing_a_parsed_playlist_after_failover():
    playlist = Playlist.parse(make().render(ended=False))
    playlist.add_discontinuity()
    playlist.mark_track_start("VIDEO", T0 + 60_000)
    playlist.add_segment("bak0_s_20190920125242485.ts", 3.0)
    lines = playlist.render(ended=True).splitlines()
    assert lines[-5:] == [
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20190920125242485",
        "#EXTINF:3.000000,",
        "bak0_s_20190920125242485.ts",
        "#EXT-X-ENDLIST",
    ]
    assert lines.count("#EXT-X-DISCONTINUITY") == 3


def test_unknown_track_type_is_refused():
    with pytest.raises(ValueError):
        Playlist().mark_track_start("DATA", T0)


def test_segment_without_extinf_is_refused():
    with pytest.raises(ValueError):
        Playlist.parse("#EXTM3U\na.ts\n")


def test_rotate_tag_is_written_and_parsed_back() -> None:
    playlist = Playlist()
    playlist.mark_rotation(640, 480, 0, 1568969502485)  # 2019-09-20 08:51:42.485 UTC
    playlist.add_segment("a.ts", 6.332)
    text = playlist.render(ended=True)
    assert "#EXT-X-AGORA-ROTATE:WIDTH=640,HEIGHT=480,ROTATE=0,TIME=20190920085142485\n" in text
    assert Playlist.parse(text).render(ended=True) == text


def special_names(cname: str) -> list[str]:
    """Slice file names of channel `cname`: mix, individual, after a fail-over."""
    return [file_name(slice_name(["rec"], "sid1", cname, T0)),
            file_name(track_slice_name([], "sid1", cname, 7, "audio", T0)),
            file_name(slice_name([], "sid1", cname, T0 + 1000, failover=0))]


@pytest.mark.parametrize("cname", LEGAL_CNAMES)
def test_segment_uris_are_percent_encoded_and_parse_back_to_file_names(cname: str) -> None:
    playlist = Playlist()
    for name in special_names(cname):
        playlist.add_segment(name, 2.0)
    text = playlist.render(ended=True)
    uris = [line for line in text.splitlines() if not line.startswith("#")]
    assert uris == [segment_uri(name) for name in special_names(cname)]
    assert all(re.fullmatch(r"([A-Za-z0-9._~-]|%[0-9A-F]{2})+", uri) for uri in uris)
    parsed = Playlist.parse(text)
    assert [s.name for s in parsed.segments] == special_names(cname)
    assert parsed.render(ended=True) == text


def test_only_unreserved_characters_stay_as_they_are() -> None:
    assert segment_uri("s_a b%c?d#e:f+g_1.ts") == "s_a%20b%25c%3Fd%23e%3Af%2Bg_1.ts"
    assert segment_uri("Sid-1_room.x~y_20190920125142485.ts") == (
        "Sid-1_room.x~y_20190920125142485.ts")  # the spec's bare name, for a plain channel
    assert segment_name("s_a%20b%25c%3Fd%23e%3Af%2Bg_1.ts") == "s_a b%c?d#e:f+g_1.ts"
