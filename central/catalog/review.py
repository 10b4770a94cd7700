"""Reviews of uploads whose recording is registered to other parties: an operator approves
(the upload is registered, linked to the matched track as one recording, so one airing is one
play) or rejects (the upload is rejected and its file deleted). Callers pass who decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.auth import audit
from central.catalog import upload_notices
from central.catalog.models import Track
from central.catalog.upload_job import (
    Claim,
    analyse_upload,
    delete_file,
    lock_registrations,
    register_upload,
)
from central.catalog.upload_models import (
    ACTOR_CHARS_MAX,
    APPROVED,
    PENDING,
    REJECTED,
    REVIEW,
    SAME_AUDIO,
    TrackReview,
    TrackUpload,
)
from central.errors import QueryError, ReviewError
from central.extensions import utc_now
from edge_agent.fingerprint import FINGERPRINT_VERSION

REVIEWS_LIMIT_MAX = 200
NOTE_CHARS_MAX = 2000


@dataclass(frozen=True)
class ReviewSummary:
    """One review as listed: the upload, the track it matched, the span they share."""

    id: int
    upload_id: int
    title: str
    submitted_by: str
    matched_track_id: int
    matched_external_id: str
    matched_title: str
    reason: str
    shared_start_ms: int
    shared_ms: int
    state: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime


@dataclass(frozen=True)
class ReviewPage:
    """Up to `limit` reviews, and the cursor of the next page (None on the last one)."""

    reviews: list[ReviewSummary]
    next_cursor: str | None


def approve_review(
    session: Session,
    review_id: int,
    decided_by: str,
    note: str | None = None,
    fingerprint_version: int = FINGERPRINT_VERSION,
) -> TrackUpload:
    """Register a pending review's upload with its shares, linked to the matched track;
    commit; the upload. ReviewError (nothing changed) when that cannot be done."""
    review, upload = _pending(session, review_id)
    if review.reason == SAME_AUDIO:
        matched = session.get(Track, review.matched_track_id)
        name = matched.external_id if matched else review.matched_track_id
        raise ReviewError(
            f"review {review_id}: the very same audio is registered as {name}: a second copy"
            f" cannot be registered; change {name}'s shares (zamio royalty shares set) and"
            " reject this review"
        )
    analysis = analyse_upload(session, upload)
    if isinstance(analysis, str):
        session.rollback()
        raise ReviewError(f"review {review_id}: the upload cannot be analysed: {analysis}")
    lock_registrations(session)
    review, upload = _pending(session, review_id)  # lock again: analysing committed
    claim = Claim(review.matched_track_id, "", review.reason, review.shared_start_ms,
                  review.shared_ms, owned=False)  # fmt: skip
    problem = register_upload(session, upload, analysis, fingerprint_version, link=claim)
    if problem:
        session.rollback()
        raise ReviewError(f"review {review_id}: cannot register the upload: {problem}")
    _decide(review, APPROVED, decided_by, note)
    track = session.get(Track, upload.track_id)
    upload_notices.registered(session, upload, track.external_id if track else "?")
    session.commit()
    return upload


def reject_review(
    session: Session, review_id: int, decided_by: str, note: str | None = None
) -> TrackUpload:
    """Reject a pending review: the upload is rejected and its file deleted; commit; the upload."""
    review, upload = _pending(session, review_id)
    _decide(review, REJECTED, decided_by, note)
    path, upload.file_path = upload.file_path, None
    upload.state, upload.updated_at = REJECTED, utc_now()
    upload.error = f"rejected by review: {note}" if note else "rejected by review"
    upload.error = upload.error[:500]
    upload_notices.rejected(session, upload, note)
    session.commit()
    delete_file(path)
    return upload


def decide(
    session: Session, review_id: int, decision: str, actor: str, via: str, note: str | None
) -> TrackUpload:
    """Approve or reject a pending review as `actor`, audited as review.<decision> (the API's
    and the console's one way to decide); the upload. ReviewError when it cannot be."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision {decision!r}: one of {', '.join(DECISIONS)}")
    upload = DECISIONS[decision](session, review_id, actor, note)
    audit.record(session, actor, via, f"review.{decision}", "track_review", review_id,
                 {"note": note})  # fmt: skip
    session.commit()
    return upload


def _pending(session: Session, review_id: int) -> tuple[TrackReview, TrackUpload]:
    """The pending review (locked) and its upload; ReviewError if unknown or decided."""
    review = session.get(TrackReview, review_id, with_for_update=True, populate_existing=True)
    if review is None:
        raise ReviewError(f"no review {review_id}")
    if review.state != PENDING:
        raise ReviewError(f"review {review_id} is already {review.state}")
    upload = session.get(TrackUpload, review.upload_id, with_for_update=True)
    assert upload is not None and upload.state == REVIEW, review_id
    return review, upload


def _decide(review: TrackReview, state: str, decided_by: str, note: str | None) -> None:
    """Record the decision on the review."""
    if not decided_by or len(decided_by) > ACTOR_CHARS_MAX:
        raise ReviewError(f"decided_by: 1-{ACTOR_CHARS_MAX} characters")
    if note is not None and len(note) > NOTE_CHARS_MAX:
        raise ReviewError(f"note: at most {NOTE_CHARS_MAX} characters")
    review.state, review.decided_by, review.decided_at = state, decided_by, utc_now()
    review.note = note


DECISIONS = {"approve": approve_review, "reject": reject_review}


def pending_reviews(
    session: Session, limit: int, cursor: str | None = None, state: str = PENDING
) -> ReviewPage:
    """Reviews in `state` (pending: waiting for a decision), oldest first, after `cursor`."""
    if not 1 <= limit <= REVIEWS_LIMIT_MAX:
        raise QueryError(f"limit: 1 to {REVIEWS_LIMIT_MAX}")
    query = (
        select(TrackReview, TrackUpload, Track)
        .join(TrackUpload, TrackUpload.id == TrackReview.upload_id)
        .join(Track, Track.id == TrackReview.matched_track_id)
        .where(TrackReview.state == state)
        .order_by(TrackReview.id)
        .limit(limit + 1)
    )
    if cursor is not None:
        query = query.where(TrackReview.id > decode_cursor(cursor))
    rows = session.execute(query).all()
    reviews = [summary(r, u, t) for r, u, t in rows[:limit]]
    more = len(rows) > limit
    return ReviewPage(reviews, encode_cursor(reviews[-1].id) if more else None)


def review_summary(session: Session, review_id: int) -> ReviewSummary | None:
    """One review, or None."""
    review = session.get(TrackReview, review_id)
    if review is None:
        return None
    upload = session.get(TrackUpload, review.upload_id)
    track = session.get(Track, review.matched_track_id)
    assert upload is not None and track is not None, review_id
    return summary(review, upload, track)


def summary(review: TrackReview, upload: TrackUpload, track: Track) -> ReviewSummary:
    """A review as listed."""
    return ReviewSummary(
        id=review.id, upload_id=upload.id, title=upload.title, submitted_by=upload.submitted_by,
        matched_track_id=track.id, matched_external_id=track.external_id,
        matched_title=track.title, reason=review.reason, shared_start_ms=review.shared_start_ms,
        shared_ms=review.shared_ms, state=review.state, decided_by=review.decided_by,
        decided_at=review.decided_at, note=review.note, created_at=review.created_at,
    )  # fmt: skip


def encode_cursor(review_id: int) -> str:
    """The cursor of the page after review `review_id`."""
    return f"r{review_id}"


def decode_cursor(cursor: str) -> int:
    """The review id of a cursor made by encode_cursor, or QueryError."""
    if not (cursor.startswith("r") and cursor[1:].isdigit() and len(cursor) <= 20):
        raise QueryError("cursor: not a cursor this API gave out (pass next_cursor unchanged)")
    return int(cursor[1:])
