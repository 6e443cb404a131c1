"""Actor names: one per channel, whatever the channel and app are called."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cloudrec.actors.recorder.config import RecordingConfig, Subscription
from cloudrec.cluster.options import (
    INDIVIDUAL_BASE_CPU,
    Placement,
    channel_options,
    fits,
    recorder_cpu,
)

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


def job(**kw: object) -> RecordingConfig:
    return replace(RecordingConfig(sid="s", appid="a", cname="c", recorder_uid=1, generation=1,
                                   workdir=Path(".")), **kw)  # type: ignore[arg-type]


def test_a_recorder_reserves_cpu_by_its_job() -> None:
    """The benchmarks' figures: a default composite 0.06-0.13 of a core (synthetic to
    camera-like input), 720p30 ~0.53 on camera-like input; an individual recorder a base plus a
    little per track it may record."""
    assert recorder_cpu(job()) == pytest.approx(0.11)
    assert recorder_cpu(job(width=1280, height=720, fps=30)) == pytest.approx(0.57)
    assert recorder_cpu(job(width=1920, height=1080, fps=30)) > recorder_cpu(
        job(width=1280, height=720, fps=30))
    everyone = recorder_cpu(job(mode="individual"))
    two = recorder_cpu(job(mode="individual", audio=Subscription(only=frozenset({1})),
                           video=Subscription(only=frozenset({1}))))
    audio_only = recorder_cpu(job(mode="individual", stream_types=0))
    assert two < audio_only < everyone <= 0.06
    assert recorder_cpu(job(mode="individual", audio=Subscription(enabled=False),
                            video=Subscription(enabled=False))) == INDIVIDUAL_BASE_CPU


def test_a_custom_resource_dedicates_nodes_to_recording() -> None:
    assert Placement().recorder_needs(job()) == {"CPU": 0.11}
    dedicated = Placement.from_env({"CLOUDREC_RECORDER_RESOURCE": "recorder"})
    needs = dedicated.recorder_needs(job())
    assert needs == {"CPU": 0.11, "recorder": 1.0}
    opts = dedicated.recorder_options(needs)
    assert opts["num_cpus"] == 0.11 and opts["resources"] == {"recorder": 1.0}
    assert Placement.from_env({}).recorder_resource is None


def test_fits_asks_for_one_node_with_everything_free() -> None:
    needs = {"CPU": 0.5, "recorder": 1.0}
    assert fits(needs, {"a": {"CPU": 0.5, "recorder": 1.0}})
    assert not fits(needs, {"a": {"CPU": 2.0}, "b": {"CPU": 0.1, "recorder": 4.0}})
    assert not fits(needs, {})


def test_a_default_composite_spare_covers_an_individual_recording_not_a_larger_canvas() -> None:
    from cloudrec.actors.session.children import _needs, covers

    placement = Placement()
    spare = _needs(placement.recorder_needs(job()))
    assert covers(spare, _needs(placement.recorder_needs(job(mode="individual"))))
    assert covers(spare, spare)
    assert not covers(spare, _needs(placement.recorder_needs(job(width=1280, height=720,
                                                                   fps=30))))
    dedicated = Placement(recorder_resource="recorder")
    assert not covers(spare, _needs(dedicated.recorder_needs(job(mode="individual"))))
