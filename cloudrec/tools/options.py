"""Arguments of `cloudrec merge` and `cloudrec convert`; kept free of media imports."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

MERGE_HELP = """\
modes: 0 one A/V MP4 per user per recording segment (<uid>_<utc>_av.mp4; a segment ends after
more than 15 s without the user), 1 one A/V MP4 per user (<uid>_0_merge_av.mp4), 2 audio only
(<uid>_0_merge.m4a, AAC), 3 video only (<uid>_0_merge.mp4). Outputs go next to each session's
playlists (into a <sid>_<cname>/ folder when several sessions share one); convert.log and, on
success, convert-done.txt are written into DIR.
"""


def add_commands(commands: Any) -> None:
    """Add `merge` and `convert` to the `cloudrec` subcommand parsers."""
    _add_merge(commands.add_parser(
        "merge", help="merge individual-mode audio and video files into MP4/M4A per user",
        epilog=MERGE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter))
    _add_convert(commands.add_parser(
        "convert", help="convert a playlist (or every playlist in a folder) to MP4/MP3/M4A"))


def _add_merge(merge: argparse.ArgumentParser) -> None:
    merge.add_argument("-f", dest="folder", type=Path, required=True, metavar="DIR",
                       help="folder with the downloaded individual-mode files")
    merge.add_argument("-m", dest="mode", type=int, choices=(0, 1, 2, 3), default=0,
                       help="output mode (default: %(default)s)")
    merge.add_argument("-s", dest="skip_gaps", action="store_true",
                       help="drop the periods a user was absent (not with -m 0)")
    merge.add_argument("-p", dest="fps", type=int, default=15,
                       help="output frame rate, 5..120 (default: %(default)s)")
    merge.add_argument("-r", dest="size", type=int, nargs=2, metavar=("W", "H"), default=None,
                       help="output resolution (default: the largest slice resolution)")
    merge.add_argument("-u", dest="uid", default=None, help="only this user")


def _add_convert(convert: argparse.ArgumentParser) -> None:
    convert.add_argument("source", type=Path, help="an .m3u8 playlist or a folder of them")
    convert.add_argument("--to", dest="target", choices=("mp4", "mp3", "m4a"), default="mp4",
                         help="output format (default: %(default)s)")
    convert.add_argument("-o", dest="out", type=Path, default=None,
                         help="output file (for a folder: output folder); default: next to "
                              "the playlist, same base name")
