"""Tests for `zamio catalog import` and `zamio catalog list` on SQLite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from central import create_app
from central.catalog import cli as catalog_cli
from central.catalog import store
from central.cli import cli
from central.extensions import db
from central.ledger.accounts import account_spec, open_account
from edge_agent.decode import decode_file
from edge_agent.fingerprint import FINGERPRINT_VERSION, REFERENCE, fingerprint
from tests import synth
from tests.conftest import disposed


@pytest.fixture
def songs(tmp_path: Path) -> dict[str, Path]:
    """Two synthesised songs of a few seconds each."""
    return {
        "song-a": synth.chord_wav(tmp_path / "a.wav", seed=11, duration_s=6.0),
        "song-b": synth.chord_wav(tmp_path / "b.wav", seed=12, duration_s=7.0),
    }


def manifest_of(tmp_path: Path, songs: dict[str, Path], name: str = "m.json") -> Path:
    """A manifest listing `songs` by relative path, with titles."""
    tracks = [{"id": k, "path": p.name, "title": k.upper()} for k, p in songs.items()]
    return synth.write_manifest(tmp_path / name, tracks)


def test_import_registers_and_lists(
    app: Flask, runner: FlaskCliRunner, songs: dict[str, Path], tmp_path: Path
) -> None:
    """New tracks are registered with their reference fingerprints and shown by list."""
    result = runner.invoke(cli, ["catalog", "import", str(manifest_of(tmp_path, songs))])
    assert result.exit_code == 0, result.output
    assert "registered song-a: " in result.stdout
    assert result.stdout.splitlines()[-1] == "summary: 2 registered, 0 skipped, 0 failed"
    with app.app_context():
        loaded = {
            e: fps
            for _, e, _, fps in store.load_reference_fingerprints(db.session, FINGERPRINT_VERSION)
        }
    expected = fingerprint(decode_file(songs["song-a"]), REFERENCE)
    np.testing.assert_array_equal(loaded["song-a"].hashes, expected.hashes)
    listed = runner.invoke(cli, ["catalog", "list", "--json"])
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["title"], r["duration_s"]) for r in rows] == [
        ("song-a", "SONG-A", 6.0),
        ("song-b", "SONG-B", 7.0),
    ]
    assert rows[0]["hash_count"] == len(expected) > 0
    table = runner.invoke(cli, ["catalog", "list"]).stdout.splitlines()
    assert table[0].split() == ["ID", "TITLE", "ARTIST", "DURATION", "HASHES"]
    assert table[1].split() == ["song-a", "SONG-A", "0:06", str(len(expected))]
    assert table[-1] == "2 tracks"


def test_duplicates_are_skipped_and_said_so(
    runner: FlaskCliRunner, songs: dict[str, Path], tmp_path: Path
) -> None:
    """A known external id, or the same audio under a new id, is skipped with the reason."""
    assert (
        runner.invoke(cli, ["catalog", "import", str(manifest_of(tmp_path, songs))]).exit_code == 0
    )
    copy = shutil.copy(songs["song-b"], tmp_path / "b-copy.wav")
    again = {**songs, "song-b-again": Path(copy)}
    result = runner.invoke(cli, ["catalog", "import", str(manifest_of(tmp_path, again, "n.json"))])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "skipped song-a: already registered (same external id)" in lines
    assert "skipped song-b-again: same audio as registered track song-b" in lines
    assert lines[-1] == "summary: 0 registered, 3 skipped, 0 failed"


def test_bad_files_are_named_and_the_import_carries_on(
    runner: FlaskCliRunner, songs: dict[str, Path], tmp_path: Path
) -> None:
    """Each unusable file is reported with its reason; the good ones still register; exit 1
    after the summary, since something failed."""
    bad = {
        "corrupt": synth.corrupt_file(tmp_path / "corrupt.wav", seed=13),
        "silent": synth.silent_wav(tmp_path / "silent.wav"),
        "short": synth.chord_wav(tmp_path / "short.wav", seed=14, duration_s=1.0),
        "missing": tmp_path / "missing.flac",
    }
    result = runner.invoke(cli, ["catalog", "import", str(manifest_of(tmp_path, bad | songs))])
    assert result.exit_code == 1, result.output
    failed = {
        line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("failed")
    }
    assert failed == {"failed corrupt", "failed silent", "failed short", "failed missing"}
    assert "corrupt.wav: corrupt or undecodable" in result.stdout
    assert "missing.flac: file not found" in result.stdout
    assert result.stdout.splitlines()[-1] == "summary: 2 registered, 0 skipped, 4 failed"


def test_track_checks_run_after_each_registration(
    runner: FlaskCliRunner,
    songs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every check in TRACK_CHECKS sees each new track and its fingerprints; its notes print."""
    seen = []

    def check(session, track, fingerprints):
        seen.append((track.external_id, len(fingerprints) > 0, track.id is not None))
        return [f"checked {track.external_id}"]

    monkeypatch.setattr(catalog_cli, "TRACK_CHECKS", [check])
    result = runner.invoke(cli, ["catalog", "import", str(manifest_of(tmp_path, songs))])
    assert seen == [("song-a", True, True), ("song-b", True, True)]
    assert "; checked song-b" in result.stdout


def test_unreadable_manifest_exits_non_zero(runner: FlaskCliRunner, tmp_path: Path) -> None:
    """A manifest that cannot be parsed stops the import with exit code 1 and the reason."""
    manifest = tmp_path / "broken.json"
    manifest.write_text("{", encoding="utf-8")
    result = runner.invoke(cli, ["catalog", "import", str(manifest)])
    assert result.exit_code == 1
    assert "broken.json: manifest is not valid JSON" in result.stderr


def test_commands_refuse_a_schema_behind(tmp_path: Path) -> None:
    """On a database that is behind (auto-upgrade off) the commands say to run the upgrade."""
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}", "DATABASE_AUTO_UPGRADE": False}
    )
    result = app.test_cli_runner().invoke(cli, ["catalog", "list"])
    disposed(app)
    assert result.exit_code == 1
    assert "run `zamio db upgrade`" in result.stderr


def test_not_audio_and_tones_fail_and_good_entries_register(
    runner: FlaskCliRunner, songs: dict[str, Path], tmp_path: Path
) -> None:
    """An ffconcat script named .mp3, a 5 s sine tone and bad manifest entries (NUL in a title,
    deep nesting, wrong types) each fail with their reason and index; the songs register."""
    t = np.arange(5 * synth.SAMPLE_RATE_HZ) / synth.SAMPLE_RATE_HZ
    synth.write_wav(tmp_path / "tone.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    (tmp_path / "hour.mp3").write_text(
        "ffconcat version 1.0\n" + "file a.wav\n" * 600, encoding="utf-8"
    )
    nested: object = "x"
    for _ in range(50):
        nested = [nested]
    tracks = [
        {"id": "song-a", "path": "a.wav"},
        {"id": "concat", "path": "hour.mp3"},
        {"id": "tone", "path": "tone.wav"},
        {"id": "nul", "path": "b.wav", "title": "Bad\u0000Title"},
        {"id": "deep", "path": "b.wav", "artist": nested},
        {"id": ["list"], "path": "b.wav"},
        {"id": "song-b", "path": "b.wav"},
    ]
    manifest = synth.write_manifest(tmp_path / "m.json", tracks)
    result = runner.invoke(cli, ["catalog", "import", str(manifest)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert 'failed nul: manifest track 3: "title" holds a control character (U+0000)' in lines
    assert "failed deep: manifest track 4: nested deeper than the 5 levels" in result.stdout
    assert 'failed track 5: manifest track 5: "id" must be a string, not list' in lines
    assert "failed concat: " in result.stdout and "concat is no audio container" in result.stdout
    assert "failed tone: " in result.stdout and "too_few_landmarks: " in result.stdout
    assert lines[-1] == "summary: 2 registered, 0 skipped, 5 failed"
    with runner.app.app_context():
        assert [s.external_id for s in store.list_summaries(db.session, FINGERPRINT_VERSION)] == [
            "song-a",
            "song-b",
        ]


def test_plain_progress_lines_off_a_terminal(
    runner: FlaskCliRunner, songs: dict[str, Path], tmp_path: Path
) -> None:
    """Off a terminal the import prints `import: N/total` lines, the last after every track."""
    result = runner.invoke(cli, ["catalog", "import", str(manifest_of(tmp_path, songs))])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "import: 2/2 (2 registered)"


def test_plain_progress_is_due_by_time_or_count() -> None:
    """A line every PROGRESS_INTERVAL_S seconds or PROGRESS_EVERY_TRACKS tracks, and at the end."""
    now = [0.0]
    lines: list[str] = []
    progress = catalog_cli.PlainProgress(120, echo=lines.append, clock=lambda: now[0])
    ok = catalog_cli.importer.Outcome("x", "registered", "")
    for n in range(1, 121):
        now[0] = n * 0.1 if n != 30 else 30 * 0.1 + catalog_cli.PROGRESS_INTERVAL_S
        if n > 30:
            now[0] += catalog_cli.PROGRESS_INTERVAL_S
        progress.update(ok)
    assert lines == [
        "import: 30/120 (30 registered)",
        "import: 80/120 (80 registered)",
        "import: 120/120 (120 registered)",
    ]


def test_manifest_shares_are_filed_or_fail_their_entry(
    runner: FlaskCliRunner, songs: dict[str, Path], tmp_path: Path
) -> None:
    """Shares in a manifest are stored with the new track; shares the store refuses (a party
    whose account is of another kind) fail that entry alone and leave no track behind."""
    with runner.app.app_context():
        open_account(db.session, account_spec("artist:kofi:earnings", "rights_holder_earnings"))
        db.session.commit()

    def master(party: str) -> dict:
        return {"master": {"isrc": "GH-A01-26-00001", "shares": [
            {"party": party, "role": "performer", "share_bp": 10_000}]}}  # fmt: skip

    tracks = [
        {"id": "song-a", "path": "a.wav", "shares": master("artist:ama:earnings")},
        {"id": "song-b", "path": "b.wav", "shares": master("artist:kofi:earnings")},
    ]
    result = runner.invoke(
        cli, ["catalog", "import", str(synth.write_manifest(tmp_path / "m.json", tracks))]
    )
    assert result.exit_code == 1, result.output
    assert (
        "failed song-b: shares refused: track song-b, master: account artist:kofi:earnings is a"
        " rights_holder_earnings, not artist_earnings" in result.stdout
    )
    shown = runner.invoke(cli, ["royalty", "shares", "show", "song-a", "--json"])
    assert json.loads(shown.stdout)["master"]["shares"][0]["party"] == "artist:ama:earnings"
    with runner.app.app_context():
        assert store.find_by_external_id(db.session, "song-b") is None
