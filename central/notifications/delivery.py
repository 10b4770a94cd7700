"""Sending deliveries: claim them, send each by its channel, record what came of it.

A job (or `zamio notify send-due`) first claims its deliveries in one UPDATE: only those still
queued and due, moving their next_attempt_at on by LEASE_S and counting the attempt, then
commits. Two jobs given the same ids (the commit's and the sweep's) cannot both claim one, so a
delivery is sent once per attempt; a worker that dies mid-way leaves its claims to run out, and
the sweep tries them again (at least once: a message handed over just before a crash can go
twice). Each result is committed as soon as it is known.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from central.auth.models import User
from central.notifications import mailer, signing, sms, webhooks
from central.notifications.events import EMAIL, SMS, WEBHOOK
from central.notifications.models import (
    DEAD,
    DROPPED,
    ERROR_CHARS_MAX,
    FAILED,
    QUEUED,
    SENT,
    Notification,
    NotificationDelivery,
    NotificationPreference,
    WebhookAttempt,
    WebhookEndpoint,
)
from central.notifications.plan import retry_at

logger = logging.getLogger(__name__)

LEASE_S = 1800  # longer than a job takes (dispatch.SEND_JOB_S_MAX)
REENQUEUE_S = 600  # a due delivery whose job is this old is enqueued again (the job was lost)
SWEEP_MAX = 2000  # deliveries a sweep takes at once
PREFERENCES_PATH = "/notifications/preferences"


@dataclass(frozen=True)
class Senders:
    """What the senders need, from the settings: None for a channel that is not configured."""

    mail: mailer.SmtpTarget | None
    sms: sms.SmsProvider | None
    server_key: bytes = field(repr=False)
    public_url: str
    webhook_timeout_s: float = 10.0
    webhook_allow_private: bool = False
    retry_base_s: int = 30
    attempts_max: int = 8


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: sent, retry (later), refused (for good) or dropped (never
    tried)."""

    kind: str
    detail: str | None = None
    provider_ref: str | None = None


def senders_of(settings: Any, server_key: str | bytes) -> Senders:
    """The senders of the settings; `server_key` signs webhooks (the app's SECRET_KEY)."""
    key = server_key.encode() if isinstance(server_key, str) else server_key
    return Senders(
        mail=mailer.smtp_target(settings),
        sms=sms.provider_from_settings(settings),
        server_key=key,
        public_url=settings.public_url,
        webhook_timeout_s=float(settings.webhook_timeout_s),
        webhook_allow_private=settings.webhook_allow_private,
        retry_base_s=settings.notify_retry_base_s,
        attempts_max=settings.notify_attempts_max,
    )


def claim(session: Session, ids: Iterable[int], now: datetime) -> list[int]:
    """Take the deliveries among `ids` that are queued and due, for LEASE_S; commit; their ids."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    statement = (
        update(NotificationDelivery)
        .where(
            NotificationDelivery.id.in_(wanted),
            NotificationDelivery.state == QUEUED,
            NotificationDelivery.next_attempt_at <= now,
        )
        .values(
            next_attempt_at=now + timedelta(seconds=LEASE_S),
            attempts=NotificationDelivery.attempts + 1,
        )
        .returning(NotificationDelivery.id)
        .execution_options(synchronize_session=False)
    )
    claimed = sorted(int(i) for i in session.scalars(statement))
    session.commit()
    return claimed


@dataclass(frozen=True)
class Item:
    """What sending one claimed delivery needs, read once: commits between sends then cost no
    reloads."""

    delivery_id: int
    user_id: int
    endpoint_id: int | None
    attempts: int  # this one included
    notification: NotificationText


@dataclass(frozen=True)
class NotificationText:
    """A notification's content, as the senders use it."""

    id: int
    event: str
    subject: str
    body: str
    link: str | None
    data_json: str
    created_at: datetime


def deliver(session: Session, senders: Senders, ids: Iterable[int], now: datetime) -> Counter[str]:
    """Claim and send these deliveries; how many ended in each state (queued: to retry)."""
    claimed = claim(session, ids, now)
    states: Counter[str] = Counter()
    if not claimed:
        return states
    by_channel: dict[str, list[Item]] = {}
    for delivery, n in session.execute(
        select(NotificationDelivery, Notification)
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(NotificationDelivery.id.in_(claimed))
        .order_by(NotificationDelivery.id)
    ):
        text = NotificationText(n.id, n.event, n.subject, n.body, n.link, n.data_json,
                                n.created_at)  # fmt: skip
        item = Item(delivery.id, delivery.user_id, delivery.endpoint_id, delivery.attempts, text)
        by_channel.setdefault(delivery.channel, []).append(item)
    session.commit()
    for channel, items in sorted(by_channel.items()):
        for item, outcome in SENDERS[channel](session, senders, items, now):
            states[record(session, senders, item, outcome, now)] += 1
    return states


def record(session: Session, senders: Senders, item: Item, outcome: Outcome, now: datetime) -> str:
    """Write an attempt's outcome to its delivery and commit; the delivery's state now."""
    detail = None if outcome.detail is None else outcome.detail[:ERROR_CHARS_MAX]
    values: dict[str, Any]
    if outcome.kind == "sent":
        values = {"state": SENT, "sent_at": now, "next_attempt_at": None, "last_error": None,
                  "provider_ref": outcome.provider_ref}  # fmt: skip
    elif outcome.kind == "retry":
        again = retry_at(item.attempts, now, senders.retry_base_s, senders.attempts_max)
        values = {"state": QUEUED if again is not None else DEAD, "next_attempt_at": again,
                  "last_error": detail}  # fmt: skip
    else:
        values = {"state": FAILED if outcome.kind == "refused" else DROPPED,
                  "next_attempt_at": None, "last_error": detail}  # fmt: skip
    session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id == item.delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if values["state"] != SENT:
        logger.info("delivery %d: %s: %s", item.delivery_id, values["state"], detail)
    return values["state"]


def link_url(senders: Senders, link: str | None) -> str | None:
    """A notification's console path as a full URL at ZAMIO_PUBLIC_URL."""
    if not link:
        return None
    return urljoin(senders.public_url.rstrip("/") + "/", link.lstrip("/"))


def email_body(senders: Senders, notification: NotificationText) -> str:
    """The mail's text: the notification, its link, and where to change what is sent."""
    parts = [notification.body.rstrip()]
    url = link_url(senders, notification.link)
    if url:
        parts.append(url)
    parts.append(f"-- \nWhat ZamIO sends you: {link_url(senders, PREFERENCES_PATH)}")
    return "\n\n".join(parts) + "\n"


Outcomes = Iterable[tuple[Item, Outcome]]


def send_emails(session: Session, senders: Senders, items: list[Item], now: datetime) -> Outcomes:
    """Send a job's mail over one SMTP connection; yields each delivery's outcome."""
    if senders.mail is None:
        for item in items:
            yield item, Outcome("dropped", "email is not configured (ZAMIO_SMTP_URL)")
        return
    query = select(User.id, User.email).where(User.id.in_({i.user_id for i in items}))
    emails = {user_id: address for user_id, address in session.execute(query)}
    session.commit()
    with mailer.Mailer(senders.mail) as smtp:
        for item in items:
            text = item.notification
            message = mailer.build_message(
                senders.mail, emails[item.user_id], text.subject, email_body(senders, text),
                f"zamio.delivery.{item.delivery_id}",
            )  # fmt: skip
            try:
                smtp.send(message)
            except mailer.MailRefused as error:
                yield item, Outcome("refused", str(error))
            except mailer.MailUnavailable as error:
                yield item, Outcome("retry", str(error))
            else:
                yield item, Outcome("sent", provider_ref=message["Message-ID"])


def send_sms(session: Session, senders: Senders, items: list[Item], now: datetime) -> Outcomes:
    """Send each SMS to the number in its user's preferences."""
    if senders.sms is None:
        for item in items:
            yield item, Outcome("dropped", "SMS is not configured (ZAMIO_SMS_URL)")
        return
    query = select(NotificationPreference.user_id, NotificationPreference.phone).where(
        NotificationPreference.user_id.in_({i.user_id for i in items})
    )
    phones = {user_id: phone for user_id, phone in session.execute(query)}
    session.commit()
    for item in items:
        phone = phones.get(item.user_id)
        if not phone:
            yield item, Outcome("dropped", "no phone number in the preferences")
            continue
        text = sms.sms_text(item.notification.subject, link_url(senders, item.notification.link))
        try:
            message_id = senders.sms.send(phone, text)
        except sms.SmsRefused as error:
            yield item, Outcome("refused", str(error))
        except sms.SmsUnavailable as error:
            yield item, Outcome("retry", str(error))
        else:
            yield item, Outcome("sent", provider_ref=message_id)


def send_webhooks(session: Session, senders: Senders, items: list[Item], now: datetime) -> Outcomes:
    """POST each webhook delivery, logging the attempt (committed with its outcome)."""
    for item in items:
        endpoint = session.get(WebhookEndpoint, item.endpoint_id)
        if endpoint is None or endpoint.deleted_at is not None or not endpoint.active:
            yield item, Outcome("dropped", "the endpoint was deleted")
            continue
        secret = signing.endpoint_secret(senders.server_key, endpoint.secret_salt)
        body = webhooks.payload(item.notification, senders.public_url)
        result = webhooks.post(
            endpoint.url, item.delivery_id, item.notification.event, body, secret,
            int(now.timestamp()), senders.webhook_timeout_s, senders.webhook_allow_private,
        )  # fmt: skip
        session.add(
            WebhookAttempt(
                delivery_id=item.delivery_id, attempt=item.attempts, at=now,
                status_code=result.status_code, duration_ms=result.duration_ms,
                error=result.error, response_excerpt=result.excerpt,
            )
        )  # fmt: skip
        ref = None if result.status_code is None else f"HTTP {result.status_code}"
        yield item, Outcome(result.kind, result.error, ref)


SENDERS = {EMAIL: send_emails, SMS: send_sms, WEBHOOK: send_webhooks}


def due(session: Session, now: datetime, limit: int = SWEEP_MAX) -> list[int]:
    """Queued deliveries due by `now`, oldest first."""
    query = (
        select(NotificationDelivery.id)
        .where(NotificationDelivery.state == QUEUED, NotificationDelivery.next_attempt_at <= now)
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def due_without_job(
    session: Session, now: datetime, limit: int = SWEEP_MAX
) -> dict[str, list[int]]:
    """Due deliveries no enqueued job covers (never enqueued, enqueued before their current
    due time, or so long ago that the job was lost), by channel; marked enqueued now. The
    caller commits, then enqueues."""
    stale = now - timedelta(seconds=REENQUEUE_S)
    query = (
        select(NotificationDelivery.id, NotificationDelivery.channel)
        .where(
            NotificationDelivery.state == QUEUED,
            NotificationDelivery.next_attempt_at <= now,
            or_(
                NotificationDelivery.enqueued_at.is_(None),
                NotificationDelivery.enqueued_at < NotificationDelivery.next_attempt_at,
                NotificationDelivery.enqueued_at < stale,
            ),
        )
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(limit)
    )
    found: dict[str, list[int]] = {}
    for delivery_id, channel in session.execute(query):
        found.setdefault(channel, []).append(int(delivery_id))
    ids = [i for chunk in found.values() for i in chunk]
    if ids:
        session.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id.in_(ids))
            .values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )
    return found


def send_due(session: Session, senders: Senders, now: datetime, chunk: int = 50) -> Counter[str]:
    """Send every delivery due by `now` here and now (the CLI; tests); states reached."""
    states: Counter[str] = Counter()
    while True:
        ids = due(session, now, chunk)
        session.commit()
        if not ids:
            return states
        states += deliver(session, senders, ids, now)


def recent_deliveries(
    session: Session,
    limit: int,
    state: str | None = None,
    channel: str | None = None,
    user_id: int | None = None,
) -> list[dict[str, Any]]:
    """The newest deliveries (of a state, channel or user, if given) as JSON, with the event
    and the user's email."""
    query = (
        select(NotificationDelivery, Notification.event, User.email)
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .join(User, User.id == NotificationDelivery.user_id)
        .order_by(NotificationDelivery.id.desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(NotificationDelivery.state == state)
    if channel is not None:
        query = query.where(NotificationDelivery.channel == channel)
    if user_id is not None:
        query = query.where(NotificationDelivery.user_id == user_id)
    return [
        {**webhooks.delivery_record(row, event), "email": address}
        for row, event, address in session.execute(query)
    ]
