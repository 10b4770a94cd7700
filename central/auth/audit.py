"""The audit log: every write through the API, the CLI or the console, append-only (the
database refuses UPDATE and DELETE on it, see migration 0015)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.auth.models import AuditEvent
from central.extensions import utc_now
from central.times import iso_datetime

VIAS = ("api", "cli", "console")
SECRET_FIELDS = frozenset({"password", "password_hash", "token", "token_hash", "secret"})


def record(
    session: Session,
    actor: str,
    via: str,
    action: str,
    object_type: str,
    object_id: object,
    changes: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit event to `session` (committed with the write it records)."""
    event = AuditEvent(
        at=utc_now(),
        actor=actor[:120],
        via=via,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:200],
        changes_json=json.dumps(without_secrets(changes or {}), sort_keys=True, default=str),
    )
    session.add(event)
    return event


def without_secrets(changes: Mapping[str, Any]) -> dict[str, Any]:
    """`changes` with every secret field's values replaced by "***"."""
    return {k: "***" if k in SECRET_FIELDS else v for k, v in changes.items()}


def events(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Audit events, oldest first, after `after_id` (a cursor), filtered as given."""
    query = select(AuditEvent).order_by(AuditEvent.id).limit(limit)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if after_id is not None:
        query = query.where(AuditEvent.id > after_id)
    return list(session.scalars(query))


def event_record(event: AuditEvent) -> dict[str, Any]:
    """An audit event as JSON."""
    return {
        "id": event.id,
        "at": iso_datetime(event.at),
        "actor": event.actor,
        "via": event.via,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "changes": json.loads(event.changes_json),
    }
