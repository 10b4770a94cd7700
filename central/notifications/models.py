"""Notification tables: the in-app inbox (`notification`), each way it is sent
(`notification_delivery`: email, SMS or a webhook endpoint), each user's preferences, webhook
endpoints and the log of every HTTP attempt at a webhook (`webhook_attempt`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from central.extensions import db, utc_now

EVENT_CHARS_MAX = 64
SUBJECT_CHARS_MAX = 200
LINK_CHARS_MAX = 500
DEDUPE_KEY_CHARS_MAX = 200
ERROR_CHARS_MAX = 500
URL_CHARS_MAX = 2000
PHONE_CHARS_MAX = 16  # E.164: + and at most 15 digits
TIMEZONE_CHARS_MAX = 64
SALT_HEX_CHARS = 32  # 16 random bytes

# Delivery states. queued: waits for next_attempt_at (first try, a retry, or the end of quiet
# hours); sent; failed: refused for good (a 5xx SMTP reply, an invalid number, a 410 Gone);
# dead: every attempt failed; dropped: never tried, last_error says why (rate limit, channel
# not configured, no phone number, endpoint deleted).
QUEUED, SENT, FAILED, DEAD, DROPPED = "queued", "sent", "failed", "dead", "dropped"
DELIVERY_STATES = (QUEUED, SENT, FAILED, DEAD, DROPPED)
FINAL_STATES = (SENT, FAILED, DEAD, DROPPED)


class Notification(db.Model):
    """One thing a user is told, as their inbox shows it; at most one per (event, user,
    dedupe_key) when a key is given (the unique constraint is the deduplication)."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event", "user_id", "dedupe_key"),
        Index("ix_notification_user_id_id", "user_id", "id"),  # the inbox, newest first
        Index("ix_notification_user_id_read_at", "user_id", "read_at"),  # the unread count
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(EVENT_CHARS_MAX))
    subject: Mapped[str] = mapped_column(String(SUBJECT_CHARS_MAX))
    body: Mapped[str] = mapped_column(Text)
    data_json: Mapped[str] = mapped_column(Text, default="{}")
    link: Mapped[str | None] = mapped_column(String(LINK_CHARS_MAX))  # a console path
    dedupe_key: Mapped[str | None] = mapped_column(String(DEDUPE_KEY_CHARS_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationDelivery(db.Model):
    """A notification sent one way: by email, by SMS, or to one webhook endpoint (a replay is
    a new delivery naming the one it replays)."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        Index("ix_notification_delivery_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_notification_delivery_user_channel", "user_id", "channel", "created_at"),
        Index("ix_notification_delivery_endpoint_id_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # email | sms | webhook
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoint.id", ondelete="CASCADE")
    )
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # queued: when it is due (while a job holds it: the end of its lease); final: None
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # when a job was last enqueued for it: the sweep enqueues one only when none covers
    # next_attempt_at, so a backlog is not enqueued twice
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(ERROR_CHARS_MAX))
    provider_ref: Mapped[str | None] = mapped_column(String(200))  # SMS message id, Message-ID
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    replay_of: Mapped[int | None] = mapped_column(
        ForeignKey("notification_delivery.id", ondelete="SET NULL")
    )


class NotificationPreference(db.Model):
    """A user's choices: the channels of each event (JSON {event: [email, sms]}; an event
    missing: the default), a phone number for SMS, their time zone (None: their station's,
    else Africa/Accra) and quiet hours in it, minutes after local midnight (None: none)."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    channels_json: Mapped[str] = mapped_column(Text, default="{}")
    phone: Mapped[str | None] = mapped_column(String(PHONE_CHARS_MAX))
    timezone: Mapped[str | None] = mapped_column(String(TIMEZONE_CHARS_MAX))
    quiet_start_min: Mapped[int | None] = mapped_column(Integer)
    quiet_end_min: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class WebhookEndpoint(db.Model):
    """An integrator's URL that gets a user's notifications as signed JSON POSTs. The signing
    secret is not stored: it is HMAC-SHA256(server key, salt), shown once when made (see
    central/notifications/signing.py). Deleting keeps the row (and its log), inactive."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(URL_CHARS_MAX))
    description: Mapped[str | None] = mapped_column(String(SUBJECT_CHARS_MAX))
    events_json: Mapped[str] = mapped_column(Text)  # a JSON list of events, or ["*"]
    secret_salt: Mapped[str] = mapped_column(String(SALT_HEX_CHARS))
    secret_hint: Mapped[str] = mapped_column(String(8))  # the secret's last 4 characters
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(db.Model):
    """One HTTP attempt at a webhook delivery: when, the answer (or the error) and how long."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (UniqueConstraint("delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("notification_delivery.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: no HTTP answer
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(ERROR_CHARS_MAX))
    response_excerpt: Mapped[str | None] = mapped_column(String(ERROR_CHARS_MAX))
