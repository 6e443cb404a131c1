from fractions import Fraction

from cloudrec.actors.recorder.naming import (
    file_name,
    mp4_name,
    playlist_name,
    slice_name,
    track_slice_name,
)
from cloudrec.actors.recorder.timebase import convert, utc17

SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"
T0 = 1560238366073  # 2019-06-11 07:32:46.073 UTC


def test_utc17_is_utc_with_milliseconds():
    assert utc17(T0) == "20190611073246073"
    assert utc17(0) == "19700101000000000"
    assert len(utc17(T0 + 999)) == 17


def test_convert_rounds_between_time_bases():
    assert convert(1000, Fraction(1, 1000), Fraction(1, 90000)) == 90000
    assert convert(1, Fraction(1, 90000), Fraction(1, 1000)) == 0
    assert convert(66.6667, Fraction(1, 1000), Fraction(1, 90000)) == 6000
    assert convert(1023, Fraction(1, 48000), Fraction(1, 1000)) == 21


def test_mix_names_follow_section_13_1():
    prefix = ["rec", "room42"]
    assert playlist_name(prefix, SID, "room42") == f"rec/room42/{SID}_room42.m3u8"
    assert slice_name(prefix, SID, "room42", T0) == f"rec/room42/{SID}_room42_20190611073246073.ts"
    assert mp4_name(prefix, SID, "room42", 0) == f"rec/room42/{SID}_room42_0.mp4"


def test_no_prefix_means_no_directory():
    assert playlist_name([], SID, "c") == f"{SID}_c.m3u8"


def test_failover_prefixes_the_file_name_not_the_directory():
    assert playlist_name(["a"], SID, "c", failover=0) == f"a/bak0_{SID}_c.m3u8"
    assert slice_name(["a"], SID, "c", T0, failover=2) == f"a/bak2_{SID}_c_20190611073246073.ts"
    assert mp4_name([], SID, "c", 3, failover=1) == f"bak1_{SID}_c_3.mp4"


def test_file_name_strips_the_prefix():
    assert file_name(f"rec/room42/{SID}_room42_20190611073246073.ts") == (
        f"{SID}_room42_20190611073246073.ts"
    )


def test_individual_slices_are_ts_or_webm_for_vp8():
    assert track_slice_name(["a"], SID, "c", 7, "video", T0) == (
        f"a/{SID}_c__uid_s_7__uid_e_video_20190611073246073.ts")
    assert track_slice_name([], SID, "c", 7, "video", T0, failover=0, extension="webm") == (
        f"bak0_{SID}_c__uid_s_7__uid_e_video_20190611073246073.webm")
