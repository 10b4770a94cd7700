"""Reading royalties: a play's accrual with its explanation and the transfers that carried it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central.ledger.models import Account, Transfer
from central.royalties.errors import AccrualError
from central.royalties.jobs import find_accrual, play_key
from central.times import iso_datetime


def explain_play(session: Session, play_id: int) -> dict[str, Any]:
    """The play's accrual, its explanation, and each transfer of it with its legs, in order."""
    accrual = find_accrual(session, play_id)
    if accrual is None:
        raise AccrualError(
            f"play {play_id} has no accrual: not closed yet, or not accrued (zamio royalty accrue)"
        )
    return {
        "play_id": play_id,
        "state": accrual.state,
        "amount_minor": accrual.amount_minor,
        "currency": accrual.currency,
        "batch_id": accrual.batch_id,
        "hold_reason": accrual.hold_reason,
        "explanation": json.loads(accrual.explanation_json),
        "transfers": play_transfers(session, play_id),
    }


def play_transfers(session: Session, play_id: int) -> list[dict[str, Any]]:
    """The transfers under the play's key and its holds' keys, by seq, with their legs."""
    key = play_key(play_id)
    transfers = session.scalars(
        select(Transfer)
        .where(
            or_(
                Transfer.idempotency_key == key,
                Transfer.idempotency_key.startswith(f"{key}:", autoescape=True),
            )
        )
        .order_by(Transfer.seq)
    ).all()
    ids = {entry.account_id for t in transfers for entry in t.entries}
    codes = dict(session.execute(select(Account.id, Account.code).where(Account.id.in_(ids))).all())
    return [
        {
            "id": str(t.id),
            "seq": t.seq,
            "key": t.idempotency_key,
            "code": t.code,
            "state": t.state,
            "created_at": iso_datetime(t.created_at),
            "legs": [
                {"account": codes[e.account_id], "side": e.side, "amount_minor": e.amount_minor}
                for e in t.entries
            ],
        }
        for t in transfers
    ]
