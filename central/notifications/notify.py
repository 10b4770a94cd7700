"""notify(): in the caller's transaction, an inbox row per user (deduplicated by the unique
constraint on (event, user, dedupe_key): a second notify with the same key adds nothing), and
the deliveries their preferences plan (central/notifications/plan.py), noted for sending once
the transaction commits (dispatch.py).

Many users at once (a daily digest for every artist) cost a few statements per 500 users, not
per user: the inbox rows and the deliveries are multi-row INSERTs (`ON CONFLICT DO NOTHING
RETURNING`, on PostgreSQL and SQLite alike), preferences, recent counts and endpoints one query
each."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from central.extensions import utc_now
from central.notifications import dispatch
from central.notifications.events import ALL_EVENTS, PERSONAL_CHANNELS, check_event
from central.notifications.models import (
    DEDUPE_KEY_CHARS_MAX,
    DROPPED,
    LINK_CHARS_MAX,
    QUEUED,
    SUBJECT_CHARS_MAX,
    Notification,
    NotificationDelivery,
    WebhookEndpoint,
)
from central.notifications.plan import Limits, Planned, plan_user
from central.notifications.preferences import chunks, load_preferences

logger = logging.getLogger(__name__)

RATE_WINDOW = timedelta(hours=1)
DEFAULT_LIMITS = Limits({"email": 30, "sms": 5})


@dataclass(frozen=True)
class Message:
    """One user's notification: what `notify` sends everyone alike, or each their own."""

    user_id: int
    subject: str
    body: str
    data: Mapping[str, Any] | None = field(default=None)
    link: str | None = None
    dedupe_key: str | None = None


def notify(
    session: Session,
    event: str,
    user_ids: Iterable[int],
    subject: str,
    body: str,
    *,
    data: dict | None = None,
    dedupe_key: str | None = None,
    link: str | None = None,
) -> None:
    """Tell each of `user_ids` about `event`: their inbox, then email, SMS and webhooks by
    their preferences, sent after the caller commits (nothing if it rolls back). A user already
    told of (event, dedupe_key) is not told again."""
    messages = [Message(u, subject, body, data, link, dedupe_key) for u in sorted(set(user_ids))]
    notify_each(session, event, messages)


def notify_each(
    session: Session,
    event: str,
    messages: Sequence[Message],
    now: datetime | None = None,
    limits: Limits | None = None,
) -> list[int]:
    """notify, with a message of its own for each user; the ids of the notifications made
    (those deduplicated left out)."""
    check_event(event)
    now = now or utc_now()
    limits = limits or current_limits()
    made: list[int] = []
    for start in range(0, len(messages), 500):
        batch = messages[start : start + 500]
        inserted = _insert_notifications(session, event, batch, now)
        if inserted:
            _deliveries(session, event, inserted, now, limits)
            made += [notification_id for notification_id, _ in inserted]
    return made


def current_limits() -> Limits:
    """The rate limits of the app in use (its ZAMIO_NOTIFY_*_PER_HOUR_MAX), else the defaults."""
    if not has_app_context():
        return DEFAULT_LIMITS
    settings = current_app.config["ZAMIO"]
    return limits_of(settings)


def limits_of(settings: Any) -> Limits:
    """The rate limits of these settings."""
    return Limits(
        {"email": settings.notify_email_per_hour_max, "sms": settings.notify_sms_per_hour_max}
    )


def _insert_notifications(
    session: Session, event: str, messages: Sequence[Message], now: datetime
) -> list[tuple[int, int]]:
    """Insert the inbox rows, skipping those already there by (event, user, dedupe_key);
    (id, user_id) of the new ones."""
    rows = [
        {
            "user_id": m.user_id,
            "event": event,
            "subject": _shorten(m.subject, SUBJECT_CHARS_MAX),
            "body": m.body,
            "data_json": json.dumps(dict(m.data or {}), sort_keys=True, default=str),
            "link": m.link,
            "dedupe_key": m.dedupe_key,
            "created_at": now,
        }
        for m in messages
    ]
    for row in rows:
        if row["dedupe_key"] is not None and len(row["dedupe_key"]) > DEDUPE_KEY_CHARS_MAX:
            raise ValueError(f"notify: dedupe_key longer than {DEDUPE_KEY_CHARS_MAX}")
        if row["link"] is not None and len(row["link"]) > LINK_CHARS_MAX:
            raise ValueError(f"notify: link longer than {LINK_CHARS_MAX}")
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Notification)
        .on_conflict_do_nothing()
        .returning(Notification.id, Notification.user_id)
    )
    return [(int(i), int(u)) for i, u in session.execute(statement, rows)]


def _deliveries(
    session: Session,
    event: str,
    inserted: list[tuple[int, int]],
    now: datetime,
    limits: Limits,
) -> None:
    """Plan and insert the deliveries of new notifications; note the due ones for sending."""
    user_ids = sorted({u for _, u in inserted})
    preferences = load_preferences(session, user_ids)
    recent = planned_since(session, user_ids, now - RATE_WINDOW)
    endpoints = subscribed_endpoints(session, user_ids, event)
    rows: list[dict[str, Any]] = []
    for notification_id, user_id in inserted:
        counts = {c: recent[(user_id, c)] for c in PERSONAL_CHANNELS}
        plans = plan_user(
            user_id, event, preferences[user_id], endpoints.get(user_id, ()), counts, limits, now
        )
        for plan in plans:
            if plan.state == QUEUED:
                recent[(user_id, plan.channel)] += 1
            else:
                logger.info("user %d: %s by %s dropped: %s", user_id, event, plan.channel,
                            plan.reason)  # fmt: skip
            rows.append(_delivery_row(notification_id, plan, now))
    if not rows:
        return
    statement = insert(NotificationDelivery).returning(
        NotificationDelivery.id, NotificationDelivery.channel, NotificationDelivery.enqueued_at
    )
    due: dict[str, list[int]] = {}
    for delivery_id, channel, enqueued_at in session.execute(statement, rows):
        if enqueued_at is not None:
            due.setdefault(channel, []).append(int(delivery_id))
    for channel, ids in due.items():
        dispatch.remember(session, channel, ids)


def _delivery_row(notification_id: int, plan: Planned, now: datetime) -> dict[str, Any]:
    """The notification_delivery row of a plan; due now: marked enqueued (after the commit)."""
    due_now = (
        plan.state == QUEUED and plan.next_attempt_at is not None and plan.next_attempt_at <= now
    )
    return {
        "notification_id": notification_id,
        "user_id": plan.user_id,
        "channel": plan.channel,
        "endpoint_id": plan.endpoint_id,
        "state": plan.state,
        "attempts": 0,
        "next_attempt_at": plan.next_attempt_at,
        "enqueued_at": now if due_now else None,
        "last_error": plan.reason,
        "created_at": now,
    }


def planned_since(
    session: Session, user_ids: list[int], since: datetime
) -> Counter[tuple[int, str]]:
    """How many email and SMS deliveries were planned (not dropped) for each user since."""
    counts: Counter[tuple[int, str]] = Counter()
    for batch in chunks(user_ids):
        query = (
            select(NotificationDelivery.user_id, NotificationDelivery.channel, func.count())
            .where(
                NotificationDelivery.user_id.in_(batch),
                NotificationDelivery.channel.in_(PERSONAL_CHANNELS),
                NotificationDelivery.created_at > since,
                NotificationDelivery.state != DROPPED,
            )
            .group_by(NotificationDelivery.user_id, NotificationDelivery.channel)
        )
        for user_id, channel, count in session.execute(query):
            counts[(user_id, channel)] = int(count)
    return counts


def subscribed_endpoints(session: Session, user_ids: list[int], event: str) -> dict[int, list[int]]:
    """The active webhook endpoints of each user that subscribe to `event`."""
    found: dict[int, list[int]] = {}
    for batch in chunks(user_ids):
        query = select(
            WebhookEndpoint.id, WebhookEndpoint.user_id, WebhookEndpoint.events_json
        ).where(
            WebhookEndpoint.user_id.in_(batch),
            WebhookEndpoint.active.is_(True),
            WebhookEndpoint.deleted_at.is_(None),
        )
        for endpoint_id, user_id, events_json in session.execute(query):
            events = json.loads(events_json)
            if event in events or ALL_EVENTS in events:
                found.setdefault(user_id, []).append(endpoint_id)
    return found


def _shorten(text: str, chars_max: int) -> str:
    """`text` cut to `chars_max` characters, with an ellipsis when cut."""
    return text if len(text) <= chars_max else text[: chars_max - 1] + "…"
