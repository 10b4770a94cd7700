"""The audited writes about notifications that the API, the console and the CLI share: saving
preferences, making and deleting webhook endpoints, replaying a delivery. Each records its
audit event in the caller's transaction; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from central.auth import audit
from central.extensions import utc_now
from central.notifications import preferences, webhooks
from central.notifications.models import NotificationDelivery, WebhookEndpoint


def save_preferences(
    session: Session,
    actor: str,
    via: str,
    user_id: int,
    events: Mapping[str, Iterable[str]] | None,
    phone: str | None,
    timezone: str | None,
    quiet_hours: Mapping[str, str] | None,
) -> dict[str, Any]:
    """Replace the user's preferences (PreferenceError if they cannot be), audited; the
    preferences as saved."""
    changes = preferences.save_preferences(
        session, user_id, events, phone, timezone, quiet_hours, utc_now()
    )
    audit.record(session, actor, via, "notify.preferences", "user", user_id, changes)
    return preferences.preference_record(session, user_id)


def add_webhook(
    session: Session,
    actor: str,
    via: str,
    user_id: int,
    url: str,
    events: Iterable[str],
    description: str | None,
    allow_private: bool,
    server_key: bytes,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown once), audited without the secret."""
    row, secret = webhooks.add_endpoint(
        session, user_id, url, events, description, allow_private, server_key, utc_now()
    )
    audit.record(session, actor, via, "webhook.add", "webhook_endpoint", row.id,
                 {"url": row.url, "events": row.events_json, "user_id": user_id})  # fmt: skip
    return row, secret


def delete_webhook(session: Session, actor: str, via: str, row: WebhookEndpoint) -> bool:
    """Delete an endpoint (its log stays), audited; False if it was already."""
    changed = webhooks.delete_endpoint(row, utc_now())
    if changed:
        audit.record(session, actor, via, "webhook.delete", "webhook_endpoint", row.id,
                     {"url": row.url})  # fmt: skip
    return changed


def replay_delivery(
    session: Session, actor: str, via: str, delivery: NotificationDelivery
) -> NotificationDelivery:
    """Send a webhook delivery again as a new one (after the commit), audited."""
    again = webhooks.replay(session, delivery, utc_now())
    audit.record(session, actor, via, "webhook.replay", "notification_delivery", delivery.id,
                 {"replay": again.id, "endpoint_id": delivery.endpoint_id})  # fmt: skip
    return again
