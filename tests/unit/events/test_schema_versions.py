"""`cloudrec events schema` publishes every version of every event type (issue 16, schema
evolution): each older version that `catalog.UPCASTERS` reads has its published schema, which
accepts that version's payload (made by `catalog.older_shape`) and refuses today's; the root,
today's schema, accepts both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cloudrec.cli import main
from cloudrec.events import catalog
from cloudrec.events.channel import TrackPublished, TrackUnpublished
from cloudrec.events.envelope import Event
from cloudrec.events.layout import Layout, LayoutRegion, LayoutUpdated, UserBackground
from cloudrec.events.recording import RecorderFailed
from cloudrec.events.upload import FileUploaded

# Today's events of every changed type, each later field away from its default.
TODAY: dict[str, Event] = {e.type: e for e in [  # type: ignore[attr-defined]
    FileUploaded(stream_id="s", at_ms=1, key="p/a.ts", kind="slice", size=3, md5="ab",
                 restored=True),
    RecorderFailed(stream_id="s", at_ms=1, generation=2, failed_generation=1, reason="died",
                   new_uid=9),
    LayoutUpdated(stream_id="s", at_ms=1, layout=Layout(
        mixed_video_layout=1, background_image="http://i/a.jpg",
        layout_config=[LayoutRegion(uid=1, x_axis=0, y_axis=0, width=1, height=1)],
        background_config=[UserBackground(uid=1, image_url="http://i/b.jpg")])),
    TrackPublished(stream_id="a/c", at_ms=1, uid=1, kind="video", codec="h264", layer=1),
    TrackUnpublished(stream_id="a/c", at_ms=1, uid=1, kind="video", layer=None),
]}


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    return catalog.json_schema()


def _validator(document: dict[str, Any], kind: str, version: int) -> Any:
    """The README's way to one version's schema."""
    return jsonschema.Draft202012Validator(
        {"$defs": document["$defs"], **document["versions"][kind][str(version)]})


def test_every_upcast_version_has_a_model_and_a_published_schema(published) -> None:
    assert set(catalog.OLDER_SHAPES) == set(catalog.UPCASTERS)
    assert {(k, int(v)) for k, vs in published["versions"].items() for v in vs} == {
        *catalog.UPCASTERS, *((t.model_fields["type"].default,
                               t.model_fields["schema_version"].default)
                              for t in catalog.EVENT_TYPES)}
    assert set(TODAY) == {kind for kind, _ in catalog.UPCASTERS}
    jsonschema.Draft202012Validator.check_schema(published)


@pytest.mark.parametrize("key", sorted(catalog.UPCASTERS))
def test_each_published_version_validates_its_own_payload(published, key) -> None:
    kind, version = key
    today = json.loads(catalog.encode(TODAY[kind]))
    older = catalog.older_shape(today, version)
    assert older["schema_version"] == version and older != today
    assert _validator(published, kind, version).is_valid(older)
    assert not _validator(published, kind, version).is_valid(today)
    current = _validator(published, kind, today["schema_version"])
    assert current.is_valid(today)
    root = jsonschema.Draft202012Validator(published)  # what the README's consumer loads
    assert root.is_valid(today) and root.is_valid(older)
    read = json.loads(catalog.encode(catalog.decode(json.dumps(older))))
    assert catalog.older_shape(read, version) == older  # upcasting keeps all it had


def test_the_command_prints_and_writes_the_published_document(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["events", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == catalog.json_schema()
    assert main(["events", "schema", "--out", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == catalog.json_schema()
