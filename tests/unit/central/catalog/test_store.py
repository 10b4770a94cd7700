"""Tests for central.catalog.store: fingerprints survive the database bit for bit."""

from __future__ import annotations

import numpy as np
from flask import Flask
from sqlalchemy import func, select

from central.catalog import store
from central.catalog.models import Track, TrackFingerprint
from central.extensions import db
from edge_agent.fingerprint import Fingerprints


def random_fingerprints(seed: int, count: int) -> Fingerprints:
    """Fingerprints with hashes over the full uint32 range, from a seed."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**32, count, dtype=np.uint32)
    anchor_frames = np.sort(rng.integers(0, 2**32, count, dtype=np.uint32))
    return Fingerprints(hashes, anchor_frames)


def register(external_id: str, seed: int, count: int = 100, version: int = 1) -> Track:
    """Register a track with random fingerprints in the current app's session."""
    return store.register_track(
        db.session,
        external_id=external_id,
        title=f"title {external_id}",
        artist=None,
        isrc=None,
        duration_ms=1000 * seed,
        content_hash=f"{seed:016x}",
        fingerprints=random_fingerprints(seed, count),
        fingerprint_version=version,
    )


def test_row_round_trip_is_exact() -> None:
    """to_row then from_row gives back the same uint32 arrays, high bit included."""
    original = random_fingerprints(1, 1000)
    restored = store.from_row(store.to_row(original, 1))
    assert restored.hashes.dtype == np.uint32
    np.testing.assert_array_equal(restored.hashes, original.hashes)
    np.testing.assert_array_equal(restored.anchor_frames, original.anchor_frames)


def test_load_reference_fingerprints_of_one_version(app: Flask) -> None:
    """Only fingerprints of the version asked for are loaded, in track id order, intact."""
    with app.app_context():
        first = register("b", seed=2)
        register("a", seed=3, version=99)
        third = register("c", seed=4, count=0)
        db.session.commit()
        loaded = list(store.load_reference_fingerprints(db.session, 1))
        expected_ids = [first.id, third.id]
    assert [(t, e, title) for t, e, title, _ in loaded] == [
        (expected_ids[0], "b", "title b"),
        (expected_ids[1], "c", "title c"),
    ]
    np.testing.assert_array_equal(loaded[0][3].hashes, random_fingerprints(2, 100).hashes)
    assert len(loaded[1][3]) == 0


def test_list_summaries(app: Flask) -> None:
    """Summaries are sorted by external id and count hashes of the version asked for only."""
    with app.app_context():
        register("z", seed=5, count=7)
        register("m", seed=6, count=9, version=2)
        db.session.commit()
        summaries = store.list_summaries(db.session, 1)
    assert [(s.external_id, s.hash_count, s.duration_ms) for s in summaries] == [
        ("m", 0, 6000),
        ("z", 7, 5000),
    ]


def test_find_by_ids_and_content(app: Flask) -> None:
    """Tracks are found by external id and by content hash."""
    with app.app_context():
        track = register("x", seed=8)
        db.session.commit()
        assert store.find_by_external_id(db.session, "x") == track
        assert store.find_by_content_hash(db.session, f"{8:016x}") == track
        assert store.find_by_external_id(db.session, "y") is None


def test_deleting_a_track_deletes_its_fingerprints(app: Flask) -> None:
    """Fingerprints go with their track (ON DELETE CASCADE is enforced on SQLite too)."""
    with app.app_context():
        register("gone", seed=9)
        db.session.commit()
        db.session.execute(Track.__table__.delete())
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(TrackFingerprint)) == 0
