"""The journal's created_at never decreases along seq, even when the clock steps back, so a
time range of transfers is a seq range (what earnings' period queries rely on)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from central.extensions import utc_now
from central.ledger import posting
from central.ledger.models import Transfer
from central.ledger.transfer import TransferRequest, credit, debit
from central.times import as_utc

pytestmark = pytest.mark.integration


def topup(session: Session, key: str) -> Transfer:
    """Money into Joy FM's wallet from the bank, committed."""
    transfer = posting.post_transfer(
        session,
        TransferRequest(key, "topup", (debit("settlement:bank", 100),
                                       credit("station:joy-fm:wallet", 100))),
    )  # fmt: skip
    session.commit()
    return transfer


def test_a_posting_after_a_later_stamped_one_takes_its_time(session: Session) -> None:
    """A transfer appended after one stamped an hour ahead (as if the clock then stepped back)
    is stamped with that later time, not with the clock's."""
    first = topup(session, "topup:1")
    ahead = utc_now() + timedelta(hours=1)
    session.execute(
        text("INSERT INTO ledger_transfer (id, seq, idempotency_key, code, state, currency,"
             " metadata_json, content_hash, prev_hash, hash, created_at) VALUES (:id, :seq,"
             " 'clock:ahead', 'topup', 'posted', 'GHS', '{}', :h, :h, :h, :at)"),
        {"id": str(uuid.uuid4()), "seq": first.seq + 1, "h": "0" * 64, "at": ahead},
    )  # fmt: skip
    session.execute(text("UPDATE ledger_chain_head SET seq = seq + 1, hash = :h"), {"h": "0" * 64})
    session.commit()
    after = topup(session, "topup:2")
    assert after.seq == first.seq + 2
    assert as_utc(after.created_at) == ahead
    later = topup(session, "topup:3")
    assert as_utc(later.created_at) >= ahead and later.seq == after.seq + 1
