"""The outbox's mail (invites, password resets: central/auth/users.py adds an OutboxMessage)
goes out through the notifications' mailer: a new message is noted for sending when its
transaction commits (an ORM insert hook, so the auth package needs no change to send), claimed
and sent like a delivery, failures retried with the same backoff. With no ZAMIO_SMTP_URL the
messages wait in the outbox (`zamio user outbox`), as before."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session, object_session

from central.auth.models import OutboxMessage
from central.notifications import dispatch, mailer
from central.notifications.delivery import LEASE_S, SWEEP_MAX
from central.notifications.models import ERROR_CHARS_MAX
from central.notifications.plan import retry_at

logger = logging.getLogger(__name__)


@event.listens_for(OutboxMessage, "after_insert")
def _noted(_mapper: Any, _connection: Any, message: OutboxMessage) -> None:
    """A message was added: send it once its transaction commits."""
    session = object_session(message)
    if session is not None:
        dispatch.remember(session, dispatch.OUTBOX, [message.id])


def _sendable(attempts_max: int) -> Any:
    """Unsent, not given up on."""
    return (OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < attempts_max)


def claim(session: Session, ids: Iterable[int], now: datetime, attempts_max: int) -> list[int]:
    """Take the unsent, due messages among `ids` for LEASE_S; commit; their ids."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    statement = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(wanted),
            *_sendable(attempts_max),
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        )
        .values(
            next_attempt_at=now + timedelta(seconds=LEASE_S), attempts=OutboxMessage.attempts + 1
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    claimed = sorted(int(i) for i in session.scalars(statement))
    session.commit()
    return claimed


def send_outbox(
    session: Session,
    target: mailer.SmtpTarget | None,
    ids: Iterable[int],
    now: datetime,
    retry_base_s: int,
    attempts_max: int,
) -> int:
    """Send these outbox messages over one connection; how many went. No target: none."""
    if target is None:
        return 0
    claimed = claim(session, ids, now, attempts_max)
    sent = 0
    with mailer.Mailer(target) as smtp:
        for message_id in claimed:
            row = session.get(OutboxMessage, message_id, populate_existing=True)
            assert row is not None, message_id
            email = mailer.build_message(target, row.to_address, row.subject, row.body,
                                         f"zamio.outbox.{row.id}")  # fmt: skip
            try:
                smtp.send(email)
            except (mailer.MailRefused, mailer.MailUnavailable) as error:
                given_up = isinstance(error, mailer.MailRefused)
                row.next_attempt_at = (
                    None if given_up else retry_at(row.attempts, now, retry_base_s, attempts_max)
                )
                if given_up:
                    row.attempts = attempts_max
                row.last_error = str(error)[:ERROR_CHARS_MAX]
                logger.info("outbox %d: not sent: %s", row.id, row.last_error)
            else:
                row.sent_at, row.next_attempt_at, row.last_error = now, None, None
                sent += 1
            session.commit()
    return sent


def due_outbox(
    session: Session, now: datetime, attempts_max: int, limit: int = SWEEP_MAX
) -> list[int]:
    """Unsent messages due by `now` (new ones, retries, and claims whose lease ran out)."""
    query = (
        select(OutboxMessage.id)
        .where(
            *_sendable(attempts_max),
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return list(session.scalars(query))
