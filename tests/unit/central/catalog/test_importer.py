"""Tests for manifest parsing (central.catalog.manifest): both formats, every kind of mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from central.catalog.importer import format_duration
from central.catalog.manifest import (
    ENTRY_DEPTH_MAX,
    Manifest,
    ManifestEntry,
    Rejected,
    depth,
    parse_csv,
    parse_json,
    read_manifest,
)
from central.errors import ManifestError
from central.royalties.rights import parse_shares

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
    assert parse_json(text, BASE) == Manifest(
        (
            ManifestEntry("a1", BASE / "a.flac", "A", "X", "GHA1B2500001"),
            ManifestEntry("7", Path("/abs/b.ogg"), "b"),
        )
    )


def test_csv_manifest() -> None:
    """A CSV manifest needs id and path columns; empty cells are absent values."""
    text = "id,path,title,artist,isrc,notes\nx1,sub/x.wav,,Band,,ignored\nx2, y.wav ,Y,,,\n"
    assert parse_csv(text, BASE) == Manifest(
        (
            ManifestEntry("x1", BASE / "sub" / "x.wav", "x", "Band"),
            ManifestEntry("x2", BASE / "y.wav", "Y"),
        )
    )


def test_csv_without_required_columns() -> None:
    """A CSV header without id or path is refused, naming the missing columns."""
    with pytest.raises(ManifestError, match="lacks column.*id, path"):
        parse_csv("title,artist\nA,B\n", BASE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "manifest is not valid JSON: Expecting property name"),
        ('{"tracks": ' + "[" * 100_000 + "]" * 100_000 + "}", "not valid JSON: nested too deeply"),
        ('["a"]', 'expected an object with a "tracks" list'),
        ('{"tracks": {"id": "a"}}', 'expected an object with a "tracks" list'),
    ],
)
def test_malformed_json(text: str, message: str) -> None:
    """JSON that is not a manifest at all is refused with the reason."""
    with pytest.raises(ManifestError, match=message):
        parse_json(text, BASE)


def test_every_bad_entry_is_named_and_the_good_ones_kept() -> None:
    """Each invalid entry is reported with its index and reason; the valid ones are kept."""
    tracks = [
        {"id": "ok", "path": "ok.wav"},
        {"path": "no-id.wav"},
        {"id": "no-path"},
        "not an object",
        {"id": "t", "path": "t.wav", "title": 5},
        {"id": "i", "path": "i.wav", "isrc": "nope"},
        {"id": "x" * 201, "path": "long.wav"},
        {"id": "nul", "path": "n.wav", "title": "A\u0000B"},
        {"id": "nl", "path": "n\nl.wav"},
        {"id": "w", "path": "w.wav", "iswc": "T-034.524.680-2"},
        {"id": "deep", "path": "d.wav", "shares": {"master": [[[[[[{}]]]]]]}},
        {"id": True, "path": "b.wav"},
    ]
    manifest = parse_json(json.dumps({"tracks": tracks}), BASE, "m.json")
    assert manifest.entries == (ManifestEntry("ok", BASE / "ok.wav", "ok"),)
    assert manifest.rejected == (
        Rejected("track 1", "", '"id" is missing'),
        Rejected("track 2", "no-path", '"path" is missing'),
        Rejected("track 3", "", "expected an object, not str"),
        Rejected("track 4", "t", '"title" must be a string, not int'),
        Rejected("track 5", "i", "\"isrc\": 'nope' is no ISRC (CC-XXX-YY-NNNNN: country,"
                 " registrant, year, id)"),
        Rejected("track 6", "", '"id" is longer than 200 characters'),
        Rejected("track 7", "nul", '"title" holds a control character (U+0000)'),
        Rejected("track 8", "nl", '"path" holds a control character (U+000A)'),
        Rejected("track 9", "w", "\"iswc\": 'T-034.524.680-2': ISWC check digit should be 1"),
        Rejected("track 10", "deep", "nested deeper than the 5 levels a track entry has"),
        Rejected("track 11", "", '"id" must be a string, not bool'),
    )  # fmt: skip


def test_codes_and_shares_in_a_json_manifest() -> None:
    """isrc, iswc and a shares document (as `royalty shares set` takes it) are read and checked;
    codes the shares give fill in the track's, and codes that disagree are refused."""
    shares = {
        "composition": {"iswc": "T-034.524.680-1", "shares": [
            {"party": "artist:ama:earnings", "role": "writer", "share_bp": 10000}]},
        "master": {"isrc": "GH-A01-26-00001", "shares": [
            {"party": None, "role": "label", "share_bp": 10000}]},
    }  # fmt: skip
    tracks = [
        {"id": "a", "path": "a.wav", "shares": shares},
        {"id": "b", "path": "b.wav", "isrc": "GH-A01-26-00002", "shares": shares},
        {"id": "c", "path": "c.wav", "shares": {"master": {"isrc": "GHA012600001", "shares": []}}},
        {"id": "d", "path": "d.wav", "isrc": "gh a01 26 00003", "iswc": "T0345246801"},
    ]
    manifest = parse_json(json.dumps({"tracks": tracks}), BASE)
    pools, _ = parse_shares(shares)
    assert manifest.entries == (
        ManifestEntry("a", BASE / "a.wav", "a", None, "GHA012600001", "T0345246801", tuple(pools)),
        ManifestEntry("d", BASE / "d.wav", "d", None, "GHA012600003", "T0345246801"),
    )
    assert [(r.external_id, r.reason) for r in manifest.rejected] == [
        ("b", '"isrc" GHA012600002 is not the master shares\' (GHA012600001)'),
        ("c", '"shares": master: shares is a list of 1..40 objects'),
    ]


def test_csv_manifest_with_codes_and_a_shares_cell() -> None:
    """A CSV `shares` cell holds the same JSON document; a cell that is not JSON is one reason."""
    cell = json.dumps({"master": {"isrc": "GHA012600001", "shares": [
        {"party": "label:kasa:earnings", "role": "label", "share_bp": 10000}]}})  # fmt: skip
    quoted = '"' + cell.replace('"', '""') + '"'
    text = f"id,path,iswc,shares\na,a.wav,T-034.524.680-1,{quoted}\nb,b.wav,,{{oops\n"
    manifest = parse_csv(text, BASE)
    (entry,) = manifest.entries
    assert (entry.isrc, entry.iswc, len(entry.shares)) == ("GHA012600001", "T0345246801", 1)
    (bad,) = manifest.rejected
    assert (bad.where, bad.external_id) == ("line 3", "b")
    assert bad.reason.startswith('"shares" is not valid JSON: Expecting property name')


def test_csv_nul_is_reported_for_its_entry() -> None:
    """A NUL inside a CSV cell rejects that line only."""
    manifest = parse_csv("id,path,title\na,a.wav,A\x00B\nb,b.wav,B\n", BASE)
    assert [e.external_id for e in manifest.entries] == ["b"]
    assert manifest.rejected == (
        Rejected("line 2", "a", '"title" holds a control character (U+0000)'),
    )


def test_depth_is_iterative_and_bounded() -> None:
    """depth() counts nesting without recursion and stops counting at its limit."""
    deep: object = 1
    for _ in range(100_000):
        deep = [deep]
    assert depth(deep, ENTRY_DEPTH_MAX + 1) == ENTRY_DEPTH_MAX + 1
    assert depth({"a": [1, {"b": []}]}, 10) == 4
    assert depth("text", 10) == 0


def test_read_manifest_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    """Relative paths in a manifest file are relative to the manifest's folder, not the cwd."""
    (tmp_path / "lists").mkdir()
    manifest = tmp_path / "lists" / "catalogue.csv"
    manifest.write_text("\ufeffid,path\nz,../audio/z.wav\n", encoding="utf-8")
    (entry,) = read_manifest(manifest).entries
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
