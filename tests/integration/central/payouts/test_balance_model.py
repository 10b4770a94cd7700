"""A model-based test of concurrent withdrawals and royalties: operations drawn by Hypothesis
run from several threads at once against PostgreSQL; whatever the interleaving, no balance goes
below zero, every refused request was refused for the balance, and the books add up: posted
balance = credited - paid, available = posted - held."""

from __future__ import annotations

import threading
import uuid

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from central.extensions import db
from central.ledger import posting
from central.ledger.accounts import account_spec, open_account
from central.ledger.queries import balance
from central.ledger.transfer import TransferRequest, credit, debit
from central.payouts import methods, withdrawals
from central.payouts.errors import WithdrawalRefused
from central.payouts.models import FAILED, FINAL, PAID, REQUESTED, Withdrawal
from central.payouts.provider import ProviderTransfer
from central.payouts.withdrawals import Actor

pytestmark = pytest.mark.integration

THREADS = 4
SYSTEM = Actor("test", "api", None)
# An operation: ("royalty", amount) | ("withdraw", amount, outcome): paid, failed, or left.
OPERATION = st.one_of(
    st.tuples(st.just("royalty"), st.integers(1, 40_000)),
    st.tuples(
        st.just("withdraw"),
        st.integers(1_000, 60_000),
        st.sampled_from(["paid", "failed", "cancel", "left"]),
    ),  # fmt: skip
)


def run(app: Flask, party: str, operation: tuple, refused: list[int]) -> None:
    """One operation in its own transaction (a thread's own session)."""
    with app.app_context():
        if operation[0] == "royalty":
            posting.post_transfer(db.session, TransferRequest(
                f"test:{uuid.uuid4()}", "royalty",
                (debit("settlement:bank", operation[1]), credit(party, operation[1])),
            ))  # fmt: skip
            db.session.commit()
            return
        _, amount, outcome = operation
        try:
            withdrawal = withdrawals.request(db.session, SYSTEM, party, amount, 1_000, 10**9)
            db.session.commit()
        except WithdrawalRefused as error:
            db.session.rollback()
            assert "available balance" in str(error), error
            refused.append(amount)
            return
        if outcome == "cancel":
            withdrawals.cancel(db.session, SYSTEM, withdrawal.id)
        elif outcome != "left":
            locked = withdrawals.get(db.session, withdrawal.id, lock=True)
            locked.status = "pending"  # as if sent; the provider's answer follows
            answer = ProviderTransfer("SUCCESSFUL" if outcome == "paid" else "FAILED", None, "x")
            withdrawals.finish(db.session, locked, PAID if outcome == "paid" else FAILED,
                               answer, outcome)  # fmt: skip
        db.session.commit()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=st.lists(OPERATION, min_size=4, max_size=24), opening=st.integers(0, 80_000))
def test_no_interleaving_takes_a_balance_below_zero(
    pg_app: Flask, operations: list[tuple], opening: int
) -> None:
    """Run the operations from THREADS threads at once; then check the books."""
    party = f"artist:model-{uuid.uuid4().hex[:10]}:earnings"
    with pg_app.app_context():
        open_account(db.session, account_spec("settlement:bank", "settlement"))
        open_account(db.session, account_spec(party, "artist_earnings"))
        methods.add_momo(db.session, SYSTEM, party, "0241234567", "mtn", None, 24)
        if opening:
            posting.post_transfer(db.session, TransferRequest(
                f"test:{uuid.uuid4()}", "royalty",
                (debit("settlement:bank", opening), credit(party, opening)),
            ))  # fmt: skip
        db.session.commit()
    refused: list[int] = []
    errors: list[BaseException] = []

    def worker(share: list[tuple]) -> None:
        try:
            for operation in share:
                run(pg_app, party, operation, refused)
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(operations[n::THREADS],))
               for n in range(THREADS)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with pg_app.app_context():
        b = balance(db.session, party)
        rows = list(db.session.scalars(select(Withdrawal).where(Withdrawal.party == party)))
        credited = opening + sum(op[1] for op in operations if op[0] == "royalty")
        paid = sum(w.amount_minor for w in rows if w.status == PAID)
        held = sum(w.amount_minor for w in rows if w.status not in FINAL)
        assert b.balance_minor >= 0 and b.available_minor >= 0
        assert b.balance_minor == credited - paid
        assert b.available_minor == b.balance_minor - held
        assert all(w.status in FINAL or w.status == REQUESTED for w in rows)
        asked = [op for op in operations if op[0] == "withdraw"]
        assert len(rows) + len(refused) == len(asked)
