"""Retention: stored hash batches, refused payloads and device events older than the retention
are deleted, and the API's idempotency records after their KEEP_DAYS.

Batches are kept ZAMIO_BATCH_RETENTION_DAYS (default 30) so that tracks registered later can be
found in past broadcasts (central/matching/rematch.py). A batch's detections go with it (ON
DELETE CASCADE); plays stay: they are the record. Deleting in bounded chunks keeps each
transaction short while listeners and workers keep writing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from central.auth.models import IDEMPOTENCY_KEEP_DAYS, IdempotencyRecord
from central.extensions import db
from central.ingest.models import BatchConflict, IngestedBatch, QuarantinedPayload
from central.monitoring.models import DeviceEvent
from central.times import ms_of
from central.worker import worker_app

logger = logging.getLogger(__name__)

DELETE_ROWS_MAX = 2000  # rows per transaction


@dataclass(frozen=True)
class Purged:
    """What one purge deleted."""

    batches: int
    quarantined: int
    events: int
    idempotency_records: int = 0


def purge_expired(session: Session, now: datetime, retention_days: int) -> Purged:
    """Delete batches whose window started, and quarantined payloads and device events received,
    before the retention; commits after every chunk."""
    cutoff = now - timedelta(days=retention_days)
    cutoff_ms = ms_of(cutoff)
    batches = _purge(
        session, IngestedBatch, IngestedBatch.window_start_ms < cutoff_ms, _drop_conflicts
    )
    quarantined = _purge(session, QuarantinedPayload, QuarantinedPayload.received_at < cutoff)
    events = _purge(session, DeviceEvent, DeviceEvent.received_at < cutoff)
    # the API's idempotency keys are replayed for KEEP_DAYS, whatever the batch retention
    kept_since = now - timedelta(days=IDEMPOTENCY_KEEP_DAYS)
    records = _purge(session, IdempotencyRecord, IdempotencyRecord.created_at < kept_since)
    return Purged(batches, quarantined, events, records)


def _purge(session: Session, model, expired, before_delete=None) -> int:
    total = 0
    while True:
        ids = session.scalars(select(model.id).where(expired).limit(DELETE_ROWS_MAX)).all()
        if not ids:
            return total
        if before_delete is not None:
            before_delete(session, ids)
        session.execute(delete(model).where(model.id.in_(ids)))
        session.commit()
        total += len(ids)


def _drop_conflicts(session: Session, batch_ids: list[int]) -> None:
    """Conflicting copies of a batch are evidence about that batch: they go with it."""
    session.execute(delete(BatchConflict).where(BatchConflict.ingested_batch_id.in_(batch_ids)))


def purge_expired_batches() -> Purged:
    """Scheduled job: purge_expired with the configured retention."""
    app = worker_app()
    with app.app_context():
        days = app.config["ZAMIO"].batch_retention_days
        purged = purge_expired(db.session, datetime.now(UTC), days)
    logger.info(
        "retention: deleted %d batches, %d refused payloads, %d events, %d idempotency records",
        *vars(purged).values(),
    )
    return purged
