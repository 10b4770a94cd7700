"""Tests for manifest parsing in central.catalog.importer: both formats, every kind of mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from central.catalog.importer import (
    ManifestEntry,
    format_duration,
    parse_csv,
    parse_json,
    read_manifest,
)
from central.errors import ManifestError

BASE = Path("/music")


def test_json_manifest_with_optional_fields() -> None:
    """Title, artist and ISRC are optional; extra keys are ignored; ids may be integers."""
    text = json.dumps(
        {
            "tracks": [
                {
                    "id": "a1",
                    "path": "a.flac",
                    "title": "A",
                    "artist": "X",
                    "isrc": "GH-A1B-25-00001",
                },
                {"id": 7, "path": "/abs/b.ogg", "duration_s": 12.5, "codec": "vorbis"},
            ]
        }
    )
    assert parse_json(text, BASE) == [
        ManifestEntry("a1", BASE / "a.flac", "A", "X", "GHA1B2500001"),
        ManifestEntry("7", Path("/abs/b.ogg"), "b"),
    ]


def test_csv_manifest() -> None:
    """A CSV manifest needs id and path columns; empty cells are absent values."""
    text = "id,path,title,artist,isrc,notes\nx1,sub/x.wav,,Band,,ignored\nx2, y.wav ,Y,,,\n"
    assert parse_csv(text, BASE) == [
        ManifestEntry("x1", BASE / "sub" / "x.wav", "x", "Band"),
        ManifestEntry("x2", BASE / "y.wav", "Y"),
    ]


def test_csv_without_required_columns() -> None:
    """A CSV header without id or path is refused, naming the missing columns."""
    with pytest.raises(ManifestError, match="lacks column.*id, path"):
        parse_csv("title,artist\nA,B\n", BASE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON: Expecting property name"),
        ('["a"]', 'expected an object with a "tracks" list'),
        ('{"tracks": {"id": "a"}}', 'expected an object with a "tracks" list'),
    ],
)
def test_malformed_json(text: str, message: str) -> None:
    """JSON that is not a manifest at all is refused with the reason."""
    with pytest.raises(ManifestError, match=message):
        parse_json(text, BASE)


def test_every_bad_entry_is_named() -> None:
    """Each invalid entry is listed with its position and what is wrong, all in one error."""
    tracks = [
        {"id": "ok", "path": "ok.wav"},
        {"path": "no-id.wav"},
        {"id": "no-path"},
        "not an object",
        {"id": "t", "path": "t.wav", "title": 5},
        {"id": "i", "path": "i.wav", "isrc": "nope"},
        {"id": "x" * 201, "path": "long.wav"},
    ]
    with pytest.raises(ManifestError) as caught:
        parse_json(json.dumps({"tracks": tracks}), BASE, "m.json")
    lines = str(caught.value).splitlines()
    assert lines[0] == "m.json: invalid entries:"
    assert lines[1:] == [
        '  track 1: "id" is missing',
        '  track 2: "path" is missing',
        "  track 3: expected an object",
        '  track 4: "title" must be a string, not int',
        "  track 5: \"isrc\" 'nope' is not an ISRC (CC-XXX-YY-NNNNN)",
        '  track 6: "id" is longer than 200 characters',
    ]


def test_problem_list_is_bounded() -> None:
    """A manifest with hundreds of bad entries lists the first 20 and counts the rest."""
    with pytest.raises(ManifestError) as caught:
        parse_json(json.dumps({"tracks": [{}] * 300}), BASE)
    assert str(caught.value).splitlines()[-1] == "  ... and 280 more"


def test_read_manifest_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    """Relative paths in a manifest file are relative to the manifest's folder, not the cwd."""
    (tmp_path / "lists").mkdir()
    manifest = tmp_path / "lists" / "catalogue.csv"
    manifest.write_text("\ufeffid,path\nz,../audio/z.wav\n", encoding="utf-8")
    (entry,) = read_manifest(manifest)
    assert entry.path == tmp_path / "lists" / ".." / "audio" / "z.wav"


def test_read_manifest_errors(tmp_path: Path) -> None:
    """A missing file or an unknown extension is a ManifestError naming the file."""
    with pytest.raises(ManifestError, match="missing.json: cannot read manifest"):
        read_manifest(tmp_path / "missing.json")
    with pytest.raises(ManifestError, match="unknown manifest format"):
        read_manifest(tmp_path / "tracks.txt")


def test_format_duration() -> None:
    """Durations print as m:ss, or h:mm:ss past an hour."""
    assert format_duration(0) == "0:00"
    assert format_duration(61_400) == "1:01"
    assert format_duration(3_725_000) == "1:02:05"
