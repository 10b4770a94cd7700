"""Reading the quarantine: payloads ingest refused, newest first, a page at a time, with their
reasons (never their bytes). Shared by the API, the console and `zamio quarantine`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.ingest.models import QuarantinedPayload
from central.times import iso_datetime


def quarantine_page(
    session: Session, limit: int, reason: str | None = None, before_id: int | None = None
) -> list[QuarantinedPayload]:
    """Up to `limit` quarantined payloads, newest first, of one reason if given, older than
    `before_id` (a cursor) if given."""
    query = select(QuarantinedPayload).order_by(QuarantinedPayload.id.desc()).limit(limit)
    if reason:
        query = query.where(QuarantinedPayload.reason == reason)
    if before_id is not None:
        query = query.where(QuarantinedPayload.id < before_id)
    return list(session.scalars(query))


def reasons(session: Session) -> list[tuple[str, int]]:
    """Each reason payloads were quarantined for, with how many, most frequent first."""
    count = func.count(QuarantinedPayload.id)
    query = select(QuarantinedPayload.reason, count).group_by(QuarantinedPayload.reason)
    return sorted(((r, int(n)) for r, n in session.execute(query)), key=lambda x: (-x[1], x[0]))


def quarantine_record(q: QuarantinedPayload) -> dict[str, Any]:
    """A quarantined payload as JSON (never its bytes)."""
    return {
        "id": q.id,
        "received_at": iso_datetime(q.received_at),
        "topic": q.topic,
        "reason": q.reason,
        "detail": q.detail,
        "payload_bytes": q.payload_bytes,
    }
