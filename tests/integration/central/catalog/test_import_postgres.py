"""`zamio catalog import` and `list` on PostgreSQL, with audio synthesised from seeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from flask.testing import FlaskCliRunner

from central.catalog import store
from central.cli import cli
from central.extensions import db
from edge_agent.decode import decode_file
from edge_agent.fingerprint import FINGERPRINT_VERSION, REFERENCE, fingerprint
from tests import synth

pytestmark = pytest.mark.integration


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    """A manifest of three synthesised songs in an audio/ folder beside it."""
    (tmp_path / "audio").mkdir()
    tracks = [
        {
            "id": f"song-{seed}",
            "path": str(synth.chord_wav(tmp_path / "audio" / f"{seed}.wav", seed, 5.0 + seed)),
            "title": f"Song {seed}",
            "artist": "Seeded Band",
            "isrc": f"GH-ZAM-25-0000{seed}",
        }
        for seed in (1, 2, 3)
    ]
    for track in tracks:  # relative to the manifest's folder
        track["path"] = str(Path(track["path"]).relative_to(tmp_path))
    return synth.write_manifest(tmp_path / "catalogue.json", tracks)


def import_manifest(
    runner: FlaskCliRunner, manifest: Path, *options: str, exit_code: int = 0
) -> list[str]:
    """Run `zamio catalog import`, assert its exit code (0: nothing failed), return the lines
    it printed."""
    result = runner.invoke(cli, ["catalog", "import", str(manifest), *options])
    assert result.exit_code == exit_code, result.output
    return result.stdout.splitlines()


def stored(app: Flask) -> dict[str, tuple[int, bytes]]:
    """external id -> (hash count, hash bytes) of every stored reference fingerprint."""
    with app.app_context():
        rows = store.load_reference_fingerprints(db.session, FINGERPRINT_VERSION)
        return {e: (len(f), f.hashes.tobytes()) for _, e, _, f in rows}


def test_import_registers_on_postgres(
    pg_app: Flask, pg_runner: FlaskCliRunner, catalogue: Path
) -> None:
    """Every track is decoded, fingerprinted and stored; what is stored is what was computed."""
    lines = import_manifest(pg_runner, catalogue)
    assert lines[-1] == "summary: 3 registered, 0 skipped, 0 failed"
    expected = fingerprint(decode_file(catalogue.parent / "audio" / "2.wav"), REFERENCE)
    assert stored(pg_app)["song-2"] == (len(expected), expected.hashes.tobytes())
    rows = json.loads(pg_runner.invoke(cli, ["catalog", "list", "--json"]).stdout)
    assert [(r["id"], r["isrc"], r["duration_s"]) for r in rows] == [
        ("song-1", "GHZAM2500001", 6.0),
        ("song-2", "GHZAM2500002", 7.0),
        ("song-3", "GHZAM2500003", 8.0),
    ]
    assert all(r["hash_count"] > 0 and r["artist"] == "Seeded Band" for r in rows)


def test_workers_store_the_same_fingerprints(
    pg_app: Flask, pg_runner: FlaskCliRunner, catalogue: Path
) -> None:
    """A pool of two worker processes stores exactly what a single process computes."""
    lines = import_manifest(pg_runner, catalogue, "--workers", "2")
    assert lines[-1] == "summary: 3 registered, 0 skipped, 0 failed"
    expected = fingerprint(decode_file(catalogue.parent / "audio" / "3.wav"), REFERENCE)
    assert stored(pg_app)["song-3"] == (len(expected), expected.hashes.tobytes())


def test_bad_files_reported_and_skipped_on_postgres(
    pg_app: Flask, pg_runner: FlaskCliRunner, catalogue: Path, tmp_path: Path
) -> None:
    """Corrupt, silent, short and missing files are each named with a reason; the rest register."""
    tracks = json.loads(catalogue.read_text())["tracks"] + [
        {"id": "corrupt", "path": str(synth.corrupt_file(tmp_path / "c.ogg", seed=21))},
        {"id": "silent", "path": str(synth.silent_wav(tmp_path / "s.wav"))},
        {"id": "short", "path": str(synth.chord_wav(tmp_path / "t.wav", 22, 2.0))},
        {"id": "missing", "path": "nowhere.wav"},
    ]
    lines = import_manifest(
        pg_runner, synth.write_manifest(tmp_path / "m.json", tracks), exit_code=1
    )
    failures = sorted(line for line in lines if line.startswith("failed "))
    assert [line.split(":")[0] for line in failures] == [
        "failed corrupt",
        "failed missing",
        "failed short",
        "failed silent",
    ]
    assert "corrupt or undecodable" in failures[0] and "file not found" in failures[1]
    assert "too short" in failures[2] and "silent" in failures[3]
    assert lines[-1] == "summary: 3 registered, 0 skipped, 4 failed"
    assert sorted(stored(pg_app)) == ["song-1", "song-2", "song-3"]


def test_duplicates_skipped_on_postgres(
    pg_app: Flask, pg_runner: FlaskCliRunner, catalogue: Path, tmp_path: Path
) -> None:
    """Re-importing skips by external id; the same audio under another id or name is skipped too."""
    import_manifest(pg_runner, catalogue)
    renamed = shutil.copy(catalogue.parent / "audio" / "1.wav", tmp_path / "renamed.wav")
    tracks = json.loads(catalogue.read_text())["tracks"] + [{"id": "alias", "path": str(renamed)}]
    lines = import_manifest(pg_runner, synth.write_manifest(tmp_path / "again.json", tracks))
    assert "skipped song-2: already registered (same external id)" in lines
    assert "skipped alias: same audio as registered track song-1" in lines
    assert lines[-1] == "summary: 0 registered, 4 skipped, 0 failed"
    assert len(stored(pg_app)) == 3


def test_migrations_round_trip_on_postgres(pg_app: Flask, pg_runner: FlaskCliRunner) -> None:
    """`zamio db downgrade base` then `zamio db upgrade` rebuild the schema on PostgreSQL."""
    assert pg_runner.invoke(cli, ["db", "downgrade", "base"]).exit_code == 0
    behind = pg_runner.invoke(cli, ["catalog", "list"])
    assert behind.exit_code == 1 and "run `zamio db upgrade`" in behind.stderr
    assert pg_runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    with pg_app.app_context(), db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), db.metadata) == []
    assert pg_runner.invoke(cli, ["catalog", "list"]).exit_code == 0


def test_manifest_codes_and_shares_are_filed_on_postgres(
    pg_app: Flask, pg_runner: FlaskCliRunner, catalogue: Path, tmp_path: Path
) -> None:
    """A manifest's iswc and shares are stored with the track as `royalty shares set` would;
    an entry whose shares name a reserved account fails alone, leaving no track; a NUL
    in a title fails its entry instead of aborting the import on PostgreSQL."""
    tracks = json.loads(catalogue.read_text())["tracks"]
    tracks[0]["iswc"] = "T-034.524.680-1"
    tracks[0]["shares"] = {"master": {"isrc": tracks[0]["isrc"], "shares": [
        {"party": "label:kasa:earnings", "role": "label", "share_bp": 10_000}]}}  # fmt: skip
    tracks[1]["shares"] = {"master": {"isrc": tracks[1]["isrc"], "shares": [
        {"party": "platform:fees", "role": "label", "share_bp": 10_000}]}}  # fmt: skip
    tracks[2]["title"] = "Nul\u0000Title"
    lines = import_manifest(
        pg_runner, synth.write_manifest(tmp_path / "m.json", tracks), exit_code=1
    )
    assert any(line.startswith('failed song-3: manifest track 2: "title" holds') for line in lines)
    assert any(
        line.startswith('failed song-2: manifest track 1: "shares": master share 1: party')
        for line in lines
    )
    assert lines[-1] == "summary: 1 registered, 0 skipped, 2 failed"
    shown = pg_runner.invoke(cli, ["royalty", "shares", "show", "song-1", "--json"])
    assert json.loads(shown.stdout)["master"]["shares"][0]["party"] == "label:kasa:earnings"
    with pg_app.app_context():
        track = store.find_by_external_id(db.session, "song-1")
        assert (track.isrc, track.iswc) == ("GHZAM2500001", "T0345246801")
    assert sorted(stored(pg_app)) == ["song-1"]
