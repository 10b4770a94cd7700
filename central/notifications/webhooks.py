"""Webhook endpoints (made, listed, deleted), their delivery log, replays, and one signed POST.

A POST's body is the notification as JSON (`id` "ntf_<notification id>", the same on a retry
and a replay, so a receiver can drop repeats; `event`, `created_at`, `subject`, `body`, `link`,
`data`), with the headers ZamIO-Signature (signing.py), ZamIO-Event and ZamIO-Delivery (this
delivery's id; a replay has its own). Any 2xx is delivered; 410 Gone fails it for good; any
other status, a timeout or no connection is tried again with backoff (plan.retry_at). Each
attempt is logged (`webhook_attempt`). The answer's first 500 characters are kept."""

from __future__ import annotations

import ipaddress
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.notifications import dispatch, signing, transport
from central.notifications.errors import WebhookError
from central.notifications.events import ALL_EVENTS, EVENTS, WEBHOOK
from central.notifications.models import (
    ERROR_CHARS_MAX,
    QUEUED,
    SALT_HEX_CHARS,
    SUBJECT_CHARS_MAX,
    URL_CHARS_MAX,
    Notification,
    NotificationDelivery,
    WebhookAttempt,
    WebhookEndpoint,
)
from central.times import iso_datetime

USER_AGENT = "ZamIO-Webhooks/1"
ENDPOINTS_PER_USER_MAX = 20
LOG_PAGE_MAX = 200


@dataclass(frozen=True)
class PostResult:
    """What one POST came to: delivered, gone (410), or to retry; and what to log."""

    kind: str  # sent | refused | retry
    status_code: int | None
    duration_ms: int
    error: str | None
    excerpt: str | None


def check_url(url: str, allow_private: bool) -> str:
    """`url` if it can be an endpoint: https (http too when private addresses are allowed), a
    host, no user or password in it, a literal IP only if public; else WebhookError. (Names
    are resolved and checked again at every POST.)"""
    text = url.strip()
    parts = urlsplit(text)
    schemes = ("https", "http") if allow_private else ("https",)
    if len(text) > URL_CHARS_MAX or parts.scheme not in schemes or not parts.hostname:
        raise WebhookError(f"url: an {' or '.join(schemes)} URL of at most {URL_CHARS_MAX} chars")
    if parts.username or parts.password:
        raise WebhookError("url: no user or password in it (the signature authenticates)")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None and not allow_private and not transport.public_address(str(literal)):
        raise WebhookError(f"url: {parts.hostname} is not a public address")
    return text


def check_events(events: Iterable[str]) -> list[str]:
    """The events an endpoint subscribes to, checked (["*"]: every event)."""
    chosen = sorted(set(events))
    if not chosen:
        raise WebhookError("events: at least one (or * for every event)")
    unknown = [e for e in chosen if e not in EVENTS and e != ALL_EVENTS]
    if unknown:
        raise WebhookError(f"events: {unknown[0][:64]!r} is none of {', '.join(EVENTS)} or *")
    return [ALL_EVENTS] if ALL_EVENTS in chosen else chosen


def add_endpoint(
    session: Session,
    user_id: int,
    url: str,
    events: Iterable[str],
    description: str | None,
    allow_private: bool,
    server_key: bytes,
    now: datetime,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of the user's and its signing secret (shown this once). The caller
    audits and commits."""
    checked_url = check_url(url, allow_private)
    chosen = check_events(events)
    if description is not None and len(description) > SUBJECT_CHARS_MAX:
        raise WebhookError(f"description: at most {SUBJECT_CHARS_MAX} characters")
    if len(user_endpoints(session, user_id)) >= ENDPOINTS_PER_USER_MAX:
        raise WebhookError(f"at most {ENDPOINTS_PER_USER_MAX} endpoints: delete one first")
    salt = secrets.token_hex(SALT_HEX_CHARS // 2)
    secret = signing.endpoint_secret(server_key, salt)
    row = WebhookEndpoint(
        user_id=user_id, url=checked_url, description=description or None,
        events_json=json.dumps(chosen), secret_salt=salt, secret_hint=secret[-4:], active=True,
        created_at=now,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row, secret


def user_endpoints(session: Session, user_id: int) -> list[WebhookEndpoint]:
    """The user's endpoints that are not deleted, oldest first."""
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.user_id == user_id, WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.id)
    )
    return list(session.scalars(query))


def find_endpoint(
    session: Session, endpoint_id: int, user_id: int | None
) -> WebhookEndpoint | None:
    """The endpoint, if it is `user_id`'s (None: anyone's, for the CLI)."""
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        return None
    return row


def delete_endpoint(row: WebhookEndpoint, now: datetime) -> bool:
    """Stop sending to the endpoint (its log stays); False if it was deleted already."""
    if row.deleted_at is not None:
        return False
    row.active, row.deleted_at = False, now
    return True


def endpoint_record(row: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as JSON: never its secret, only the secret's last characters."""
    return {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "events": json.loads(row.events_json),
        "active": row.active,
        "secret_hint": "…" + row.secret_hint,
        "created_at": iso_datetime(row.created_at),
        "deleted_at": iso_datetime(row.deleted_at),
    }


def delivery_log(
    session: Session, endpoint_id: int, limit: int, before_id: int | None = None
) -> list[dict[str, Any]]:
    """The endpoint's deliveries, newest first, each with its attempts (limit + 1 fetched by
    callers that page)."""
    query = (
        select(NotificationDelivery, Notification.event)
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(NotificationDelivery.endpoint_id == endpoint_id)
        .order_by(NotificationDelivery.id.desc())
        .limit(min(limit, LOG_PAGE_MAX + 1))
    )
    if before_id is not None:
        query = query.where(NotificationDelivery.id < before_id)
    rows = session.execute(query).all()
    attempts: dict[int, list[dict[str, Any]]] = {}
    if rows:
        ids = [d.id for d, _ in rows]
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
        ):
            attempts.setdefault(attempt.delivery_id, []).append(attempt_record(attempt))
    return [delivery_record(d, event, attempts.get(d.id, [])) for d, event in rows]


def delivery_record(
    delivery: NotificationDelivery, event: str, attempts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A delivery as JSON (its attempts when a webhook's)."""
    return {
        "id": delivery.id,
        "notification_id": delivery.notification_id,
        "event": event,
        "channel": delivery.channel,
        "endpoint_id": delivery.endpoint_id,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": iso_datetime(delivery.next_attempt_at),
        "last_error": delivery.last_error,
        "sent_at": iso_datetime(delivery.sent_at),
        "created_at": iso_datetime(delivery.created_at),
        "replay_of": delivery.replay_of,
        "log": attempts or [],
    }


def attempt_record(attempt: WebhookAttempt) -> dict[str, Any]:
    """One attempt as JSON."""
    return {
        "attempt": attempt.attempt,
        "at": iso_datetime(attempt.at),
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "response": attempt.response_excerpt,
    }


def webhook_delivery(
    session: Session, delivery_id: int, user_id: int | None
) -> NotificationDelivery | None:
    """A webhook delivery, if it is `user_id`'s (None: anyone's)."""
    row = session.get(NotificationDelivery, delivery_id)
    if row is None or row.channel != WEBHOOK:
        return None
    if user_id is not None and row.user_id != user_id:
        return None
    return row


def replay(session: Session, delivery: NotificationDelivery, now: datetime) -> NotificationDelivery:
    """A new delivery of the same notification to the same endpoint, due now (sent after the
    commit); WebhookError when the endpoint is deleted. The caller audits and commits."""
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise WebhookError("its endpoint is deleted: nothing to replay to")
    again = NotificationDelivery(
        notification_id=delivery.notification_id, user_id=delivery.user_id, channel=WEBHOOK,
        endpoint_id=delivery.endpoint_id, state=QUEUED, attempts=0, next_attempt_at=now,
        enqueued_at=now, created_at=now, replay_of=delivery.id,
    )  # fmt: skip
    session.add(again)
    session.flush()
    dispatch.remember(session, WEBHOOK, [again.id])
    return again


def payload(notification: Any, public_url: str) -> bytes:
    """The JSON body of a notification's webhook POST (a Notification, or the senders' copy
    of its content)."""
    link = (
        urljoin(public_url.rstrip("/") + "/", notification.link.lstrip("/"))
        if notification.link
        else None
    )
    document = {
        "id": f"ntf_{notification.id}",
        "event": notification.event,
        "created_at": iso_datetime(notification.created_at),
        "subject": notification.subject,
        "body": notification.body,
        "link": link,
        "data": json.loads(notification.data_json or "{}"),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def post(
    url: str,
    delivery_id: int,
    event: str,
    body: bytes,
    secret: str,
    now_s: int,
    timeout_s: float,
    allow_private: bool,
) -> PostResult:
    """POST `body` to an endpoint's `url`, signed at `now_s`; what came of it."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.SIGNATURE_HEADER: signing.signature_header(secret, now_s, body),
        "ZamIO-Event": event,
        "ZamIO-Delivery": str(delivery_id),
    }
    started = time.monotonic()
    try:
        answer = transport.request("POST", url, body, headers, timeout_s, allow_private)
    except (transport.Forbidden, transport.Unreachable) as error:
        kind = "refused" if isinstance(error, transport.Forbidden) else "retry"
        took_ms = round((time.monotonic() - started) * 1000)
        return PostResult(kind, None, took_ms, str(error)[:ERROR_CHARS_MAX], None)
    excerpt = answer.body[:ERROR_CHARS_MAX].decode("utf-8", "replace") or None
    if 200 <= answer.status < 300:
        return PostResult("sent", answer.status, answer.duration_ms, None, excerpt)
    kind = "refused" if answer.status == 410 else "retry"
    return PostResult(kind, answer.status, answer.duration_ms, f"HTTP {answer.status}", excerpt)
