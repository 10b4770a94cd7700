"""Reviews of uploads held because their recording is registered to other parties: approve
registers (linked as one recording), reject deletes the file; decisions are made once; the
pending list pages by cursor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import select

from central.catalog.models import Track, TrackNearDuplicate
from central.catalog.review import approve_review, pending_reviews, reject_review
from central.catalog.upload_models import TrackReview
from central.errors import QueryError, ReviewError
from central.extensions import db
from central.royalties.store import track_shares
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from tests import transforms
from tests.unit.central.catalog.uploading import (
    AMA,
    KASA,
    counts,
    fields,
    song_file,
    stored_files,
    submit,
    upload_row,
)


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    """A 60 s song, Ama's."""
    return transforms.song(51, 60.0)


def held(app: Flask, tmp_path: Path, song: np.ndarray, name: str = "cut", same: bool = False):
    """Ama's song registered, and Kasa's upload of a 40 s cut of it (or of the very same file)
    held for review; (upload id, review id)."""
    if not stored_files(app):
        path = song_file(tmp_path, "orig.wav", song)
        submit(app, path, fields("Orig", "GH-A01-26-00001", AMA), frozenset({AMA}))
    audio = song if same else song[5 * SAMPLE_RATE_HZ : 45 * SAMPLE_RATE_HZ]
    path = song_file(tmp_path, f"{name}.wav", audio)
    if same:
        path.write_bytes((tmp_path / "orig.wav").read_bytes())
    upload_id = submit(app, path, fields(name, "GH-A01-26-00002", KASA), frozenset({KASA}))
    with app.app_context():
        review = db.session.scalar(select(TrackReview).where(TrackReview.upload_id == upload_id))
        assert review is not None
        return upload_id, review.id


def test_approve_registers_the_upload_linked_to_the_match(
    app: Flask, tmp_path: Path, song: np.ndarray
) -> None:
    """Approved: Kasa's cut is a track with Kasa's shares, linked to Ama's as one recording
    (one airing, one play); the decision records who, when and why; the file is kept."""
    upload_id, review_id = held(app, tmp_path, song)
    with app.app_context():
        upload = approve_review(db.session, review_id, "user:9", "a licensed edit")
        track = db.session.get(Track, upload.track_id)
        assert (upload.state, track.external_id, track.duration_ms) == ("registered", "cut", 40000)
        assert [x.party for x in track_shares(db.session, track.id)["master"].lines] == [KASA]
        link = db.session.scalars(select(TrackNearDuplicate)).one()
        orig = db.session.scalar(select(Track).where(Track.external_id == "orig"))
        assert (link.track_id, link.other_track_id) == (track.id, orig.id)
        review = db.session.get(TrackReview, review_id)
        assert (review.state, review.decided_by, review.note) == (
            "approved", "user:9", "a licensed edit")  # fmt: skip
        assert review.decided_at is not None
    assert counts(app) == (2, 2) and len(stored_files(app)) == 2


def test_reject_deletes_the_file_and_decides_once(
    app: Flask, tmp_path: Path, song: np.ndarray
) -> None:
    """Rejected: the upload is rejected with the note, its file deleted, no track added; a
    second decision either way is refused."""
    upload_id, review_id = held(app, tmp_path, song)
    with app.app_context():
        upload = reject_review(db.session, review_id, "user:9", "not theirs")
        assert (upload.state, upload.error) == ("rejected", "rejected by review: not theirs")
        with pytest.raises(ReviewError, match=f"review {review_id} is already rejected"):
            approve_review(db.session, review_id, "user:9")
        with pytest.raises(ReviewError, match=f"review {review_id} is already rejected"):
            reject_review(db.session, review_id, "user:9")
        with pytest.raises(ReviewError, match="no review 999"):
            approve_review(db.session, 999, "user:9")
    assert upload_row(app, upload_id).file_path is None
    assert counts(app) == (1, 1) and len(stored_files(app)) == 1


def test_the_very_same_audio_cannot_be_approved(
    app: Flask, tmp_path: Path, song: np.ndarray
) -> None:
    """A review of identical audio cannot register a second copy: approving says what to do
    instead and changes nothing; it can still be rejected."""
    _, review_id = held(app, tmp_path, song, "copy", same=True)
    with app.app_context():
        with pytest.raises(ReviewError, match="the very same audio is registered as orig"):
            approve_review(db.session, review_id, "user:9")
        assert db.session.get(TrackReview, review_id).state == "pending"
        assert reject_review(db.session, review_id, "user:9").state == "rejected"
    assert counts(app) == (1, 1)


def test_approve_refuses_when_the_id_was_taken_meanwhile(
    app: Flask, tmp_path: Path, song: np.ndarray
) -> None:
    """An upload that asked for an external id registered since cannot be approved; the
    review stays pending, nothing is added."""
    path = song_file(tmp_path, "orig.wav", song)
    submit(app, path, fields("Orig", "GH-A01-26-00001", AMA), frozenset({AMA}))
    cut = song_file(tmp_path, "cut.wav", song[: 40 * SAMPLE_RATE_HZ])
    upload_id = submit(app, cut, fields("Cut", "GH-A01-26-00002", KASA, external_id="k-1"),
                       frozenset({KASA}))  # fmt: skip
    other = song_file(tmp_path, "other.wav", transforms.song(52, 20.0))
    submit(app, other, fields("Other", "GH-A01-26-00003", AMA, external_id="k-1"),
           frozenset({AMA}))  # fmt: skip
    with app.app_context():
        review_id = db.session.scalar(select(TrackReview.id))
        with pytest.raises(ReviewError, match="external id k-1 is already registered"):
            approve_review(db.session, review_id, "user:9")
        assert db.session.get(TrackReview, review_id).state == "pending"
    assert upload_row(app, upload_id).state == "review"
    assert counts(app) == (2, 2)


def test_pending_reviews_page_by_cursor(app: Flask, tmp_path: Path, song: np.ndarray) -> None:
    """Three pending reviews come two then one, oldest first; a decided one drops out; a
    forged cursor or a limit out of range is a QueryError."""
    ids = [held(app, tmp_path, song, f"cut{n}")[1] for n in range(3)]
    with app.app_context():
        first = pending_reviews(db.session, 2)
        assert [r.id for r in first.reviews] == ids[:2] and first.next_cursor is not None
        assert first.reviews[0].matched_external_id == "orig"
        assert first.reviews[0].submitted_by == "user:1"
        second = pending_reviews(db.session, 2, first.next_cursor)
        assert [r.id for r in second.reviews] == ids[2:] and second.next_cursor is None
        reject_review(db.session, ids[0], "user:9")
        assert [r.id for r in pending_reviews(db.session, 10).reviews] == ids[1:]
        assert [r.id for r in pending_reviews(db.session, 10, None, "rejected").reviews] == ids[:1]
        with pytest.raises(QueryError, match="cursor"):
            pending_reviews(db.session, 2, "x1")
        with pytest.raises(QueryError, match="limit"):
            pending_reviews(db.session, 0)
