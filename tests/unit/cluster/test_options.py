"""Actor names: one per channel, whatever the channel and app are called."""

from __future__ import annotations

from cloudrec.cluster.options import channel_options

from ..api.names import LEGAL_CNAMES, PUNCTUATION


def test_distinct_channels_get_distinct_actor_names() -> None:
    """Tried: every spec-legal punctuation mark, `_` and `-` on either side of the app/channel
    split; once `a b` and `a?b` shared one channel actor (and so one recording)."""
    cnames = ["a b", "a?b", "a_b", "a_20b", "a-b", "a.b", "ab", "b", "a-", *LEGAL_CNAMES,
              *(f"a{mark}b" for mark in PUNCTUATION)]
    pairs = [(appid, cname) for appid in ("app", "app-a", "app_a") for cname in cnames]
    pairs += [("app-a", "b"), ("app", "a-b")]
    names = [channel_options(appid, cname)["name"] for appid, cname in pairs]
    assert len(set(names)) == len(set(pairs))
    assert all(n.isascii() and " " not in n for n in names)
