"""Tools users run on downloaded recordings: `cloudrec merge` and `cloudrec convert` (§16.1, §16.2).

`tracks` reads individual-mode playlists into UTC-anchored slices, `spans` decides which stretches
of time each output covers, `picture` and `sound` turn decoded frames into constant-rate output
tracks, `merge` and `convert` are the two commands; `options` holds their argument parsers.
"""
