"""People and their keys: users, their links to stations and ledger parties, API tokens,
one-time tokens (invite, password reset), the outbox of mail, the audit log and the
idempotency records of the API's writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from central.extensions import db, utc_now

EMAIL_CHARS_MAX = 254  # RFC 5321's path limit
ROLE_CHARS_MAX = 16
PARTY_CHARS_MAX = 128  # as rights_share.party
TOKEN_NAME_CHARS_MAX = 100
SCOPES_CHARS_MAX = 500
HASH_HEX_CHARS = 64  # sha-256 in hex
KEY_ID_CHARS = 12  # the public part of a token, the lookup key
ACTOR_CHARS_MAX = 120
ACTION_CHARS_MAX = 64
OBJECT_CHARS_MAX = 200
IDEMPOTENCY_KEY_CHARS_MAX = 200


class User(db.Model):
    """A person who logs in: one role; station staff are linked to stations, artists and rights
    holders to ledger parties. `password_hash` is argon2id; None until an invite is accepted."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_CHARS_MAX), unique=True)  # lower case
    role: Mapped[str] = mapped_column(String(ROLE_CHARS_MAX))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # bumped on a password change or disable: console sessions made before it end
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)

    stations: Mapped[list[UserStation]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    parties: Mapped[list[UserParty]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class UserStation(db.Model):
    """A station a user of role `station` works for."""

    __tablename__ = "user_station"
    __table_args__ = (UniqueConstraint("user_id", "station_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id", ondelete="CASCADE"))

    user: Mapped[User] = relationship(back_populates="stations")


class UserParty(db.Model):
    """A ledger party (earnings account code, as rights shares name it) a user speaks for."""

    __tablename__ = "user_party"
    __table_args__ = (UniqueConstraint("user_id", "party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    party: Mapped[str] = mapped_column(String(PARTY_CHARS_MAX))

    user: Mapped[User] = relationship(back_populates="parties")


class ApiToken(db.Model):
    """A personal access token `zamio_pat_<key_id>_<secret>`: found by `key_id`, checked by the
    sha-256 of the whole token (its secret has 190 bits: a slow hash would add nothing)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    key_id: Mapped[str] = mapped_column(String(KEY_ID_CHARS), unique=True)
    token_hash: Mapped[str] = mapped_column(String(HASH_HEX_CHARS))
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_CHARS_MAX))
    scopes: Mapped[str] = mapped_column(String(SCOPES_CHARS_MAX))  # space-separated, sorted
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class OneTimeToken(db.Model):
    """An invite or password-reset token, sent by mail: its sha-256 only, used once."""

    __tablename__ = "one_time_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))  # invite | reset
    token_hash: Mapped[str] = mapped_column(String(HASH_HEX_CHARS), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutboxMessage(db.Model):
    """Mail waiting to go (or gone): the embedded outbox `zamio user outbox` shows; with
    ZAMIO_SMTP_URL set, the notifications' mailer sends it after the commit that added it
    (central/notifications/outbox.py), retrying failures."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(EMAIL_CHARS_MAX))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))


class AuditEvent(db.Model):
    """One write by someone, append-only: who (actor), through what (via), what (action on
    object) and which fields changed, as JSON {field: [old, new]} with secrets left out."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(ACTOR_CHARS_MAX))  # user:3 | cli:root | bootstrap
    via: Mapped[str] = mapped_column(String(16))  # api | cli | console
    action: Mapped[str] = mapped_column(String(ACTION_CHARS_MAX))  # e.g. user.add, token.revoke
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(OBJECT_CHARS_MAX))
    changes_json: Mapped[str] = mapped_column(Text, default="{}")


IDEMPOTENCY_KEEP_DAYS = 7  # a key is replayed this long, then `zamio purge` deletes it


class IdempotencyRecord(db.Model):
    """The first response to a POST with an Idempotency-Key, per caller: replayed for the same
    key and body, 409 for the same key with another body."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("caller", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caller: Mapped[str] = mapped_column(String(ACTOR_CHARS_MAX))
    key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_CHARS_MAX))
    request_hash: Mapped[str] = mapped_column(String(HASH_HEX_CHARS))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
