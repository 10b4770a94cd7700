"""Posting on real PostgreSQL: idempotency, holds, reversals, refusals that write nothing."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.extensions import db
from central.ledger import posting, queries
from central.ledger.accounts import account_spec, open_account
from central.ledger.errors import (
    AlreadyResolved,
    AlreadyReversed,
    BalanceRuleViolation,
    CurrencyMismatch,
    IdempotencyConflict,
    NotPending,
    NotReversible,
    TransferNotFound,
    UnknownAccount,
)
from central.ledger.models import Transfer
from central.ledger.transfer import TransferRequest, credit, debit
from central.ledger.verify import verify

pytestmark = pytest.mark.integration


def topup(session: Session, key: str = "topup:1", amount_minor: int = 100_000) -> Transfer:
    """Money into Joy FM's wallet from the bank, committed."""
    transfer = posting.post_transfer(
        session,
        TransferRequest(key, "topup", (debit("settlement:bank", amount_minor),
                                       credit("station:joy-fm:wallet", amount_minor))),
    )  # fmt: skip
    session.commit()
    return transfer


def royalty(key: str, amount_minor: int = 10_000, **kwargs: object) -> TransferRequest:
    """A station debited, five rights holders credited in one transfer (a split)."""
    shares = [4000, 2000, 1500, 1500, 1000]  # of 10_000
    parts = [amount_minor * s // 10_000 for s in shares]
    holders = ["artist:1:earnings", "artist:2:earnings", "rights_holder:7:earnings",
               "society:ghamro:pool", "platform:fees"]  # fmt: skip
    legs = (debit("station:joy-fm:wallet", sum(parts)),) + tuple(
        credit(h, p) for h, p in zip(holders, parts)
    )
    return TransferRequest(key, "royalty", legs, metadata={"play_id": key}, **kwargs)


def count(session: Session) -> int:
    """Transfers in the journal."""
    return session.scalar(select(func.count()).select_from(Transfer))


def test_models_match_the_migrations_on_postgresql(session: Session) -> None:
    """Migration 0008 builds on PostgreSQL exactly the tables the models describe."""
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), db.metadata) == []


def test_multi_leg_transfer_posts_atomically_and_verifies(session: Session) -> None:
    """One debit and five credits post together; the balances and verify agree."""
    topup(session)
    transfer = posting.post_transfer(session, royalty("royalty:play:1"))
    session.commit()
    assert [e.leg for e in transfer.entries] == [0, 1, 2, 3, 4, 5]
    assert queries.balance(session, "station:joy-fm:wallet").balance_minor == 90_000
    assert queries.balance(session, "artist:1:earnings").balance_minor == 4_000
    assert queries.balance(session, "settlement:bank").balance_minor == 100_000  # an asset
    assert verify(session).ok


def test_same_key_same_content_returns_the_earlier_transfer(session: Session) -> None:
    """A retry (even in a new session, legs in another order) posts nothing new."""
    topup(session)
    first = posting.post_transfer(session, royalty("royalty:play:1"))
    session.commit()
    again_request = royalty("royalty:play:1")
    again_request = TransferRequest(
        again_request.idempotency_key, "royalty", again_request.legs[::-1],
        metadata={"play_id": "royalty:play:1"},
    )  # fmt: skip
    again = posting.post_transfer(session, again_request)
    session.commit()
    assert (again.id, again.seq) == (first.id, first.seq)
    assert count(session) == 2
    assert queries.balance(session, "platform:fees").balance_minor == 1_000


def test_same_key_other_content_is_a_conflict(session: Session) -> None:
    """The same key for another amount is refused and writes nothing."""
    topup(session)
    posting.post_transfer(session, royalty("royalty:play:1"))
    session.commit()
    with pytest.raises(IdempotencyConflict, match="royalty:play:1"):
        posting.post_transfer(session, royalty("royalty:play:1", amount_minor=20_000))
    session.rollback()
    assert count(session) == 2


def test_balance_rule_refuses_and_writes_nothing(session: Session) -> None:
    """Past the GHS 500 credit limit the posting is refused; the key stays free."""
    with pytest.raises(BalanceRuleViolation, match="station:joy-fm:wallet"):
        posting.post_transfer(session, royalty("royalty:play:1", amount_minor=50_010))
    session.rollback()
    assert count(session) == 0
    posting.post_transfer(session, royalty("royalty:play:1", amount_minor=50_000))
    session.commit()
    assert queries.balance(session, "station:joy-fm:wallet").balance_minor == -50_000


def test_hold_then_post_and_hold_then_void(session: Session) -> None:
    """A hold reserves the money; posting moves it, voiding releases it; each once only."""
    topup(session, amount_minor=10_000)
    payout = TransferRequest("payout:1", "payout", (debit("station:joy-fm:wallet", 8_000),
                             credit("settlement:bank", 8_000)), pending=True)  # fmt: skip
    hold = posting.post_transfer(session, payout)
    session.commit()
    wallet = queries.balance(session, "station:joy-fm:wallet")
    assert (wallet.balance_minor, wallet.available_minor) == (10_000, 2_000)
    posted = posting.post_pending(session, hold.id, "payout:1:post")
    session.commit()
    assert posted.pending_id == hold.id
    assert posting.post_pending(session, hold.id, "payout:1:post").id == posted.id  # a retry
    with pytest.raises(AlreadyResolved):
        posting.void_pending(session, hold.id, "payout:1:void")
    session.rollback()
    with pytest.raises(NotPending):
        posting.void_pending(session, posted.id, "payout:1:void")
    session.rollback()
    wallet = queries.balance(session, "station:joy-fm:wallet")
    assert (wallet.balance_minor, wallet.available_minor, wallet.debits_pending_minor) == (
        2_000, 2_000, 0,
    )  # fmt: skip
    assert verify(session).ok


def test_reversal_is_a_new_transfer_and_happens_once(session: Session) -> None:
    """Reversing restores the balances with a mirrored transfer; a second reversal is refused."""
    topup(session)
    original = posting.post_transfer(session, royalty("royalty:play:1"))
    session.commit()
    undo = posting.reverse(session, original.id, "royalty:play:1:reversal")
    session.commit()
    assert (undo.code, undo.reverses_id, undo.seq) == ("reversal", original.id, 3)
    assert queries.balance(session, "artist:1:earnings").balance_minor == 0
    assert queries.balance(session, "station:joy-fm:wallet").balance_minor == 100_000
    with pytest.raises(AlreadyReversed):
        posting.reverse(session, original.id, "royalty:play:1:reversal-2")
    session.rollback()
    assert posting.reverse(session, undo.id, "royalty:play:1:re-reversal").state == "posted"
    session.commit()
    assert verify(session).ok


def test_reversal_respects_balance_rules(session: Session) -> None:
    """Money paid out cannot be reversed out of an artist below zero; pending is no reversal."""
    topup(session)
    original = posting.post_transfer(session, royalty("royalty:play:1"))
    posting.post_transfer(session, TransferRequest("payout:a1", "payout", (
        debit("artist:1:earnings", 4_000), credit("settlement:bank", 4_000))))  # fmt: skip
    payout = (debit("artist:2:earnings", 1_000), credit("settlement:bank", 1_000))
    hold = posting.post_transfer(
        session, TransferRequest("payout:a2", "payout", payout, pending=True)
    )
    session.commit()
    with pytest.raises(BalanceRuleViolation, match="artist:1:earnings"):
        posting.reverse(session, original.id, "royalty:play:1:reversal")
    session.rollback()
    with pytest.raises(NotReversible):
        posting.reverse(session, hold.id, "payout:a2:reversal")
    session.rollback()


def test_refusals_name_the_problem(session: Session) -> None:
    """Unknown accounts, other currencies and unknown transfer ids are refused clearly."""
    with pytest.raises(UnknownAccount, match="artist:404:earnings"):
        posting.post_transfer(session, TransferRequest("x:1", "royalty", (
            debit("station:joy-fm:wallet", 1), credit("artist:404:earnings", 1))))  # fmt: skip
    session.rollback()
    open_account(session, account_spec("settlement:usd", "settlement", "USD"))
    with pytest.raises(CurrencyMismatch, match="settlement:usd"):
        posting.post_transfer(session, TransferRequest("x:2", "topup", (
            debit("settlement:usd", 1), credit("station:joy-fm:wallet", 1))))  # fmt: skip
    session.rollback()
    with pytest.raises(TransferNotFound):
        posting.reverse(session, "6d1f7a51-0000-4000-8000-000000000000", "x:3")
    with pytest.raises(TransferNotFound):
        posting.post_pending(session, "not-a-uuid", "x:4")
    session.rollback()
    assert count(session) == 0


def test_statement_has_opening_lines_and_closing(session: Session) -> None:
    """A statement over a window opens with the balance before it and closes with the sum."""
    topup(session)
    posting.post_transfer(session, royalty("royalty:play:1"))
    session.commit()
    middle = session.scalar(select(Transfer.created_at).where(Transfer.seq == 2))
    posting.post_transfer(session, royalty("royalty:play:2", amount_minor=20_000))
    session.commit()
    whole = queries.statement(session, "station:joy-fm:wallet")
    assert [line.balance_minor for line in whole.lines] == [100_000, 90_000, 70_000]
    window = queries.statement(session, "station:joy-fm:wallet", since=middle)
    assert (window.opening_minor, window.closing_minor) == (100_000, 70_000)
    assert [line.seq for line in window.lines] == [2, 3]
    before = queries.statement(session, "station:joy-fm:wallet", until=middle)
    assert (before.closing_minor, len(before.lines)) == (100_000, 1)
