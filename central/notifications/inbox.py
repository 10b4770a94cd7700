"""A user's inbox: their notifications newest first, a page at a time, the unread count, and
marking read (the API, the console and the CLI share these)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from central.notifications.models import Notification
from central.times import iso_datetime

PAGE_MAX = 200


def inbox_page(
    session: Session,
    user_id: int,
    limit: int,
    before_id: int | None = None,
    unread_only: bool = False,
) -> list[Notification]:
    """Up to `limit` of the user's notifications with ids below `before_id`, newest first."""
    query = (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id.desc())
        .limit(min(limit, PAGE_MAX + 1))
    )
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query))


def unread_count(session: Session, user_id: int) -> int:
    """How many of the user's notifications are unread."""
    query = select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int(session.scalar(query) or 0)


def find_notification(session: Session, notification_id: int, user_id: int) -> Notification | None:
    """The notification, if it is the user's."""
    row = session.get(Notification, notification_id)
    return row if row is not None and row.user_id == user_id else None


def mark_read(row: Notification, now: datetime) -> bool:
    """Mark one notification read; False if it was already. The caller commits."""
    if row.read_at is not None:
        return False
    row.read_at = now
    return True


def mark_all_read(session: Session, user_id: int, now: datetime) -> int:
    """Mark every unread notification of the user's read; how many. The caller commits."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def notification_record(row: Notification) -> dict[str, Any]:
    """A notification as JSON."""
    return {
        "id": row.id,
        "event": row.event,
        "subject": row.subject,
        "body": row.body,
        "data": json.loads(row.data_json or "{}"),
        "link": row.link,
        "created_at": iso_datetime(row.created_at),
        "read_at": iso_datetime(row.read_at),
        "read": row.read_at is not None,
    }
