"""RQ jobs of matching: match_batch(batch_pk) turns a stored batch into detections, and
sweep_unmatched(), the scheduled job that enqueues it again for a batch whose job was lost.

A job takes ids, loads rows, calls the pure matcher, saves, commits, then enqueues
update_plays of the batch's station. Running it twice leaves the same detections (the batch's old
ones are replaced in the same transaction). The index is built
once per worker process and rebuilt when the catalogue's fingerprints change.
A stored batch with no matched_at is the durable "to match" mark: whatever lost its job (Redis
down at the enqueue, a Redis restarted empty, a worker killed with its retries spent after a
week), the sweep finds it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from central import queues
from central.catalog.models import Track
from central.extensions import db
from central.ingest.models import IngestedBatch
from central.matching.index import MatchIndex
from central.matching.loader import load_index
from central.matching.matcher import Match, match_window
from central.matching.models import Detection
from central.worker import worker_app, worker_queue
from edge_agent.batch import FRAME_MS, HashBatch, decode_batch
from edge_agent.fingerprint import Fingerprints

logger = logging.getLogger(__name__)

UNMATCHED_GRACE_S = 30  # younger unmatched batches may still be on their way to a worker (the
# sweep skips a batch whose job is known, so this only spares the moment between commit and enqueue)
SWEEP_BATCHES_MAX = 5000  # examined per run: at most this many enqueued a minute
_SWEEP_CURSOR_KEY = "zamio:sweep_unmatched:after_pk"  # where the next run goes on from

_index: tuple[tuple, MatchIndex] | None = None  # (catalogue signature, index)


def match_batch(batch_pk: int) -> int:
    """Match one ingested batch; replace its detections; enqueue update_plays of its station;
    return how many detections there are."""
    with worker_app().app_context():
        count = match_stored_batch(db.session, batch_pk)
        row = db.session.get(IngestedBatch, batch_pk)  # in the session already: no query
        station_id = None if row is None else row.station_id
        db.session.commit()
    if station_id is not None:
        queues.enqueue_update_plays(worker_queue(), station_id)
    return count


def sweep_unmatched() -> int:
    """Scheduled job: enqueue match_batch for stored batches unmatched UNMATCHED_GRACE_S after
    arrival whose job is lost (not waiting, running, due for a retry, or failed for good, which
    waits for `rq requeue`); how many. Each run examines the next SWEEP_BATCHES_MAX of them, so
    batches that failed for good never hide the ones behind them."""
    queue = worker_queue()
    after_pk = int(queue.connection.get(_SWEEP_CURSOR_KEY) or 0)
    with worker_app().app_context():
        cutoff = datetime.now(UTC) - timedelta(seconds=UNMATCHED_GRACE_S)
        pks = unmatched_batches(db.session, cutoff, after_pk, SWEEP_BATCHES_MAX)
    lost = queues.without_match_job(queue.connection, pks)
    with queues.enqueueing(queue) as pipe:
        for pk in lost:
            queues.enqueue_match(queue, pk, pipeline=pipe)
    next_pk = pks[-1] if len(pks) == SWEEP_BATCHES_MAX else 0  # 0: from the start next time
    queue.connection.set(_SWEEP_CURSOR_KEY, next_pk)
    if lost:
        logger.warning("sweep_unmatched: %d batches had lost their match job", len(lost))
    return len(lost)


def unmatched_batches(session: Session, cutoff: datetime, after_pk: int, limit: int) -> list[int]:
    """Ids above `after_pk` of batches stored before `cutoff` and not matched, lowest first."""
    query = (
        select(IngestedBatch.id)
        .where(
            IngestedBatch.matched_at.is_(None),
            IngestedBatch.received_at < cutoff,
            IngestedBatch.id > after_pk,
        )
        .order_by(IngestedBatch.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def match_stored_batch(session: Session, batch_pk: int) -> int:
    """The job's work inside a session: detections of one batch, replacing earlier ones."""
    row = session.get(IngestedBatch, batch_pk)
    if row is None:
        logger.warning("match_batch: no ingested batch %d", batch_pk)
        return 0
    batch = decode_batch(row.payload)
    matches = match_window(current_index(session), Fingerprints(batch.hashes, batch.anchor_frames))
    session.execute(delete(Detection).where(Detection.ingested_batch_id == batch_pk))
    session.add_all(detection(row, batch, m) for m in matches)
    row.matched_at = datetime.now(UTC)
    row.plays_at = None  # its detections (maybe new ones, after a re-match) await update_plays
    return len(matches)


def detection(row: IngestedBatch, batch: HashBatch, match: Match) -> Detection:
    """A Match as a Detection row, its frames placed in UTC by the batch's window start."""

    def utc_ms(frame: int) -> int:
        return batch.window_start_ms + (frame - batch.first_frame) * FRAME_MS

    return Detection(
        ingested_batch_id=row.id,
        station_id=row.station_id,
        track_id=match.track.track_id,
        window_start_ms=batch.window_start_ms,
        start_ms=utc_ms(match.query_first_frame),
        end_ms=utc_ms(match.query_last_frame),
        query_first_frame=match.query_first_frame,
        query_last_frame=match.query_last_frame,
        inliers=match.inliers,
        query_hashes=match.query_hashes,
        speed_ratio=match.speed_ratio,
        offset_frames=match.offset_frames,
        confidence=match.confidence,
        strong=match.strong,
    )


def current_index(session: Session) -> MatchIndex:
    """The process's index, rebuilt when the catalogue's fingerprints changed."""
    global _index
    signature = catalogue_signature(session)
    if _index is None or _index[0] != signature:
        _index = (signature, load_index(session))
    return _index[1]


def catalogue_signature(session: Session) -> tuple:
    """What changes whenever tracks are added or removed: how many there are, the newest id and
    the newest registration time (ids restart in a truncated test database; times do not).
    One pass over the track table, no join: it runs before every job."""
    query = select(func.count(), func.max(Track.id), func.max(Track.created_at))
    return tuple(session.execute(query).one())
