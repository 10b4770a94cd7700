"""Near-duplicate flagging at import: a radio edit of a registered song is noted, others not."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner

from central.catalog import store
from central.catalog.near_duplicates import linked_pairs, near_duplicate_notes
from central.cli import cli
from central.extensions import db
from central.matching.index import TrackRef, build_index
from edge_agent import fingerprint as fp
from tests import transforms


def test_radio_edit_of_a_registered_song_is_flagged() -> None:
    """An excerpt of a registered song, sped up 2 %, is reported with the shared seconds."""
    original = transforms.song(301, 60.0)
    index = build_index([(TrackRef(1, "ORIG", "original"), fp.fingerprint(original, fp.REFERENCE))])
    edit = transforms.speed(original[8000 * 5 : 8000 * 50], 1.02)
    notes = near_duplicate_notes([index], 2, fp.fingerprint(edit, fp.REFERENCE))
    assert len(notes) == 1
    assert notes[0].startswith("near-duplicate of ORIG (original)")


def test_different_songs_are_not_flagged() -> None:
    """Unrelated music produces no note."""
    index = build_index(
        [
            (
                TrackRef(1, "ORIG", "original"),
                fp.fingerprint(transforms.song(302, 60.0), fp.REFERENCE),
            )
        ]
    )
    other = fp.fingerprint(transforms.song(303, 60.0), fp.REFERENCE)
    assert near_duplicate_notes([index], 2, other) == []


def test_catalogue_scan_links_tracks_imported_without_links(
    app: Flask, runner: FlaskCliRunner
) -> None:
    """`zamio catalog near-duplicates` finds the edit of a song registered before links were
    kept and records the pair once: a second scan adds nothing, unrelated songs stay apart."""
    original = transforms.song(304, 60.0)
    songs = {"ORIG": original, "EDIT": original[8000 * 10 : 8000 * 50]}
    songs["OTHER"] = transforms.song(305, 45.0)
    with app.app_context():
        ids = {
            name: store.register_track(
                db.session,
                external_id=name,
                title=name,
                artist=None,
                isrc=None,
                duration_ms=len(samples) // 8,
                content_hash=f"{n:016x}",
                fingerprints=fp.fingerprint(samples, fp.REFERENCE),
                fingerprint_version=fp.FINGERPRINT_VERSION,
            ).id
            for n, (name, samples) in enumerate(songs.items())
        }
        db.session.commit()
    first = runner.invoke(cli, ["catalog", "near-duplicates"])
    assert first.exit_code == 0, first.output
    assert "1 near-duplicate links recorded" in first.output
    again = runner.invoke(cli, ["catalog", "near-duplicates"])
    assert "0 near-duplicate links recorded" in again.output
    with app.app_context():
        pairs = linked_pairs(db.session)
    assert [frozenset(p) for p in pairs] == [frozenset({ids["ORIG"], ids["EDIT"]})]
