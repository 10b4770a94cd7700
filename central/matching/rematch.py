"""Retroactive matching: find newly registered tracks in the batches already stored.

Hash batches are kept for ZAMIO_BATCH_RETENTION_DAYS. When tracks join the catalogue, live
matching finds them from then on (the worker's index follows the catalogue); `rematch` looks for
them in the past: each stored batch in the range is matched again, its detections of just those
tracks are replaced, and update_plays builds their plays.
Matching against all tracks instead (`track_ids=None`) re-runs match_batch itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from rq import Queue
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from central import queues
from central.catalog.models import Track
from central.extensions import db
from central.ingest.models import IngestedBatch
from central.matching.jobs import current_index, detection
from central.matching.matcher import match_window
from central.matching.models import Detection
from central.times import ms_of
from central.worker import worker_app, worker_queue
from edge_agent.batch import decode_batch
from edge_agent.fingerprint import Fingerprints

logger = logging.getLogger(__name__)

IDS_PER_QUERY_MAX = 5000
DAY_MS = 86_400_000


def rematch_batch(batch_pk: int, track_ids: list[int]) -> int:
    """RQ job: the batch's detections of `track_ids`, found again; update_plays enqueued."""
    with worker_app().app_context():
        count, station_id = rematch_stored_batch(db.session, batch_pk, track_ids)
        db.session.commit()
    if station_id is not None:
        queues.enqueue_update_plays(worker_queue(), station_id)
    return count


def rematch_stored_batch(
    session: Session, batch_pk: int, track_ids: Sequence[int]
) -> tuple[int, int | None]:
    """The job's work in a session: (detections found, the batch's station or None if gone)."""
    row = session.get(IngestedBatch, batch_pk)
    if row is None:
        return 0, None  # purged since it was enqueued
    batch = decode_batch(row.payload)
    # The whole catalogue competes, as in live matching; only the wanted tracks' matches are
    # kept. An index of just those tracks would let chance matches through that the rest of
    # the catalogue outvotes live, and give different plays.
    wanted = set(track_ids)
    found = match_window(current_index(session), Fingerprints(batch.hashes, batch.anchor_frames))
    matches = [m for m in found if m.track.track_id in wanted]
    session.execute(
        delete(Detection).where(
            Detection.ingested_batch_id == batch_pk, Detection.track_id.in_(sorted(track_ids))
        )
    )
    session.add_all(detection(row, batch, m) for m in matches)
    row.plays_at = None
    return len(matches), row.station_id


def batch_ids(
    session: Session, since_ms: int, until_ms: int, station_id: int | None = None
) -> Iterator[list[int]]:
    """Ids of stored batches whose window starts in [since_ms, until_ms), in chunks."""
    query = (
        select(IngestedBatch.id)
        .where(IngestedBatch.window_start_ms >= since_ms, IngestedBatch.window_start_ms < until_ms)
        .order_by(IngestedBatch.id)
    )
    if station_id is not None:
        query = query.where(IngestedBatch.station_id == station_id)
    chunk: list[int] = []
    for pk in session.scalars(query.execution_options(yield_per=IDS_PER_QUERY_MAX)):
        chunk.append(pk)
        if len(chunk) == IDS_PER_QUERY_MAX:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def enqueue_rematch(
    session: Session,
    queue: Queue,
    since_ms: int,
    until_ms: int,
    track_ids: Sequence[int] | None = None,
    station_id: int | None = None,
) -> int:
    """Enqueue the re-matching of every stored batch in the range; how many jobs."""
    count = 0
    for chunk in batch_ids(session, since_ms, until_ms, station_id):
        with queues.enqueueing(queue) as pipe:
            for pk in chunk:
                if track_ids is None:
                    queues.enqueue_match(queue, pk, pipeline=pipe)
                else:
                    queues.enqueue_rematch(queue, pk, sorted(track_ids), pipeline=pipe)
        count += len(chunk)
    return count


def new_tracks(session: Session) -> list[int]:
    """Tracks never yet looked for in stored batches."""
    return list(session.scalars(select(Track.id).where(Track.rematched_at.is_(None))))


def rematch_new_tracks() -> int:
    """Scheduled job: look for tracks registered since the last run in every stored batch
    (the retention window); how many re-match jobs it enqueued."""
    app = worker_app()
    with app.app_context():
        track_ids = new_tracks(db.session)
        if not track_ids:
            return 0
        now = datetime.now(UTC)
        since_ms = ms_of(now) - app.config["ZAMIO"].batch_retention_days * DAY_MS
        count = enqueue_rematch(db.session, worker_queue(), since_ms, 2**62, track_ids)
        mark_rematched(db.session, track_ids, now)
        db.session.commit()
    logger.info("rematch: %d new tracks, %d batches enqueued", len(track_ids), count)
    return count


def mark_rematched(session: Session, track_ids: Sequence[int], now: datetime) -> None:
    """Record that these tracks' past plays have been looked for."""
    session.execute(update(Track).where(Track.id.in_(sorted(track_ids))).values(rematched_at=now))
