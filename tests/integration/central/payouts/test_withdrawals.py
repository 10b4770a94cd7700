"""Withdrawals against the MoMo simulator as a separate process: each ends paid once or
refunded once, whatever the provider does in between, and the ledger verifies after each."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from central.extensions import db
from central.ledger.models import Transfer
from central.ledger.queries import balance
from central.ledger.verify import verify
from central.notifications.models import Notification
from central.payouts import actions, disburse, jobs, withdrawals
from central.payouts.errors import StepRefused, WithdrawalRefused
from central.payouts.models import FAILED, PAID, PENDING, REQUESTED, SENDING, Withdrawal
from central.payouts.withdrawals import Actor
from tests.integration.central.payouts.conftest import (
    ADMINS,
    ARTIST,
    FAILING_NUMBER,
    INACTIVE_NUMBER,
    PARTY,
    SUCCESS_NUMBER,
    Sim,
)

pytestmark = pytest.mark.integration


def actor(people: dict[str, int], email: str) -> Actor:
    """The payout actor of a test user."""
    return Actor(f"user:{people[email]}", "api", people[email])


def add_method(app: Flask, people: dict[str, int], number: str = SUCCESS_NUMBER) -> None:
    """Ama's MoMo number."""
    with app.app_context():
        actions.add_momo_method(app, actor(people, ARTIST), PARTY, number, "mtn")


def request(app: Flask, people: dict[str, int], amount_minor: int) -> int:
    """Ama asks for `amount_minor`; the withdrawal's id."""
    with app.app_context():
        return actions.request_withdrawal(app, actor(people, ARTIST), PARTY, amount_minor).id


def approve(app: Flask, people: dict[str, int], withdrawal_id: int, admin: str = ADMINS[0]) -> str:
    """One admin's approval (the last one sends it, inline); the status after."""
    with app.app_context():
        return actions.approve(app, actor(people, admin), withdrawal_id).status


def state(app: Flask, withdrawal_id: int) -> Withdrawal:
    """The withdrawal as stored now."""
    with app.app_context():
        found = withdrawals.get(db.session, withdrawal_id)
        db.session.expunge(found)
        return found


def money(app: Flask) -> tuple[int, int]:
    """Ama's (posted balance, available) in minor units."""
    with app.app_context():
        b = balance(db.session, PARTY)
        return b.balance_minor, b.available_minor


def payout_transfers(app: Flask, withdrawal_id: int) -> list[str]:
    """The states of the ledger transfers of one withdrawal, in journal order."""
    prefix = f"payout:withdrawal:{withdrawal_id}:"
    with app.app_context():
        query = select(Transfer.state).where(Transfer.idempotency_key.startswith(prefix))
        return list(db.session.scalars(query.order_by(Transfer.seq)))


def assert_verified(app: Flask) -> None:
    """`zamio ledger verify`'s check passes."""
    with app.app_context():
        report = verify(db.session)
        assert report.ok, report.problems


def test_paid_once_and_the_ledger_posts_the_hold(pay_app: Flask, people, sim: Sim) -> None:
    """Request holds the money; approval sends it; the provider's SUCCESSFUL posts the hold."""
    add_method(pay_app, people)
    withdrawal_id = request(pay_app, people, 90_000)
    assert money(pay_app) == (500_000, 410_000)  # held, not moved
    assert approve(pay_app, people, withdrawal_id) == PAID
    paid = state(pay_app, withdrawal_id)
    assert paid.provider_state == "SUCCESSFUL" and paid.provider_id
    assert money(pay_app) == (410_000, 410_000)
    assert payout_transfers(pay_app, withdrawal_id) == ["pending", "posted_from_pending"]
    held = sim.transfers(reference=str(paid.reference))
    assert held["transfers"][0]["posts"] == 1 and held["transfers"][0]["amount"] == "900.00"
    assert_verified(pay_app)
    with pay_app.app_context():  # the artist is told each step; every admin of the request
        told = db.session.execute(select(Notification.user_id, Notification.event)).all()
    assert sorted(e for u, e in told if u == people[ARTIST]) == ["payout.approved", "payout.paid"]
    assert sorted(u for u, e in told if e == "payout.requested") == sorted(
        people[a] for a in ADMINS
    )


def test_a_failed_transfer_gives_the_money_back(pay_app: Flask, people, sim: Sim) -> None:
    """FAILED at the provider voids the hold: the balance is whole again, with the reason."""
    add_method(pay_app, people, FAILING_NUMBER)
    withdrawal_id = request(pay_app, people, 50_000)
    assert approve(pay_app, people, withdrawal_id) == FAILED
    failed = state(pay_app, withdrawal_id)
    assert failed.provider_reason == "INTERNAL_PROCESSING_ERROR"
    assert money(pay_app) == (500_000, 500_000)
    assert payout_transfers(pay_app, withdrawal_id) == ["pending", "voided"]
    assert_verified(pay_app)


def test_a_timeout_after_acceptance_is_polled_not_sent_again(
    pay_app: Flask, people, sim: Sim
) -> None:
    """The provider takes the transfer but the answer never comes: no second transfer; the
    reference is asked about until paid."""
    add_method(pay_app, people)
    withdrawal_id = request(pay_app, people, 10_000)
    sim.faults(timeout_next=1, hold_ms=3_000)  # past the client's 2 s timeout
    assert approve(pay_app, people, withdrawal_id) == PAID
    reference = str(state(pay_app, withdrawal_id).reference)
    held = sim.transfers(reference=reference)["transfers"]
    assert len(held) == 1 and held[0]["posts"] == 1
    assert payout_transfers(pay_app, withdrawal_id) == ["pending", "posted_from_pending"]
    assert_verified(pay_app)


def test_a_409_on_a_retry_means_submitted(pay_app: Flask, people, sim: Sim) -> None:
    """Taken, then answered 500: a retrying worker sends the same reference again, gets 409,
    and keeps polling; one transfer at the provider, paid once."""
    add_method(pay_app, people)
    withdrawal_id = request(pay_app, people, 10_000)
    sim.faults(accept_then_500_next=1, status_fail_next=50)
    with pay_app.app_context():
        withdrawals.approve(db.session, actor(people, ADMINS[0]), withdrawal_id)
        db.session.commit()
        provider = jobs.provider_for(pay_app)
        assert disburse.send(db.session, provider, withdrawal_id).status == SENDING
        assert disburse.send(db.session, provider, withdrawal_id).status == PENDING  # 409
    sim.faults(status_fail_next=0)
    with pay_app.app_context():
        for _ in range(50):
            found = disburse.check(db.session, provider, withdrawal_id)
            if found.status == PAID:
                break
            import time

            time.sleep(0.1)
    reference = str(state(pay_app, withdrawal_id).reference)
    held = sim.transfers(reference=reference)["transfers"]
    assert len(held) == 1 and held[0]["posts"] == 2
    assert state(pay_app, withdrawal_id).status == PAID
    assert payout_transfers(pay_app, withdrawal_id) == ["pending", "posted_from_pending"]
    assert_verified(pay_app)


def test_an_inactive_account_is_refused_and_unknown_reference_is_sent_again(
    pay_app: Flask, people, sim: Sim
) -> None:
    """The account-holder check refuses an inactive number; a 500 before the provider stored the
    transfer leaves it unknown there, and the next check sends it again by the same reference."""
    from central.payouts.errors import MethodError

    with pytest.raises(MethodError, match="no active"):
        add_method(pay_app, people, INACTIVE_NUMBER)
    add_method(pay_app, people)
    withdrawal_id = request(pay_app, people, 10_000)
    sim.faults(fail_next=1)
    with pay_app.app_context():
        withdrawals.approve(db.session, actor(people, ADMINS[0]), withdrawal_id)
        db.session.commit()
        provider = jobs.provider_for(pay_app)
        assert disburse.send(db.session, provider, withdrawal_id).status == SENDING
        assert sim.transfers()["transfers"] == []
        assert disburse.check(db.session, provider, withdrawal_id).status == PENDING
    assert len(sim.transfers()["transfers"]) == 1


def test_four_eyes(pay_app: Flask, people, sim: Sim) -> None:
    """From the four-eyes amount two distinct admins approve; a second approval by the same
    admin does not count; a requester cannot approve their own withdrawal."""
    add_method(pay_app, people)
    with pay_app.app_context():
        own = actions.request_withdrawal(pay_app, actor(people, ADMINS[0]), PARTY, 150_000)
        assert own.approvals_needed == 2
        with pytest.raises(StepRefused, match="requester"):
            actions.approve(pay_app, actor(people, ADMINS[0]), own.id)
        assert actions.approve(pay_app, actor(people, ADMINS[1]), own.id).status == REQUESTED
        with pytest.raises(StepRefused, match="approved this withdrawal already"):
            actions.approve(pay_app, actor(people, ADMINS[1]), own.id)
        assert state(pay_app, own.id).status == REQUESTED
        with pytest.raises(StepRefused, match="named admin"):
            actions.approve(pay_app, Actor("bootstrap", "api", None), own.id)
        assert actions.approve(pay_app, actor(people, ADMINS[2]), own.id).status == PAID
        assert [a.user_id for a in state(pay_app, own.id).approvals] == [
            people[ADMINS[1]], people[ADMINS[2]],
        ]  # fmt: skip
    assert_verified(pay_app)


def test_amounts_and_methods_are_checked(pay_app: Flask, people, sim: Sim) -> None:
    """No method, under the minimum, over the available balance, a changed method in its
    cooling-off: each refused with a reason, nothing held."""
    with pay_app.app_context(), pytest.raises(WithdrawalRefused, match="no payout method"):
        actions.request_withdrawal(pay_app, actor(people, ARTIST), PARTY, 10_000)
    add_method(pay_app, people)
    with pay_app.app_context():
        with pytest.raises(WithdrawalRefused, match="smallest"):
            actions.request_withdrawal(pay_app, actor(people, ARTIST), PARTY, 999)
        with pytest.raises(WithdrawalRefused, match="available balance is 500000"):
            actions.request_withdrawal(pay_app, actor(people, ARTIST), PARTY, 500_001)
    add_method(pay_app, people, "0209876543")  # a new number: cooling off
    with pay_app.app_context():
        with pytest.raises(WithdrawalRefused, match="changed recently"):
            actions.request_withdrawal(pay_app, actor(people, ARTIST), PARTY, 10_000)
        assert db.session.scalar(select(Withdrawal.id)) is None
    assert money(pay_app) == (500_000, 500_000)


def test_reject_and_cancel_give_the_money_back(pay_app: Flask, people, sim: Sim) -> None:
    """An admin's rejection and the party's cancellation void the hold, once; no step after."""
    add_method(pay_app, people)
    first, second = request(pay_app, people, 20_000), request(pay_app, people, 30_000)
    assert money(pay_app) == (500_000, 450_000)
    with pay_app.app_context():
        actions.reject(pay_app, actor(people, ADMINS[0]), first, "the number is not the artist's")
        actions.cancel(pay_app, actor(people, ARTIST), second)
        with pytest.raises(StepRefused, match="rejected cannot become approved"):
            actions.approve(pay_app, actor(people, ADMINS[1]), first)
        with pytest.raises(StepRefused):
            actions.cancel(pay_app, actor(people, ARTIST), second)
    assert money(pay_app) == (500_000, 500_000)
    assert payout_transfers(pay_app, first) == ["pending", "voided"]
    assert sim.transfers()["transfers"] == []
    assert_verified(pay_app)


def test_a_number_not_checked_at_registration_is_checked_before_paying(
    pay_app: Flask, people, sim: Sim
) -> None:
    """A number saved while the provider could not check it is checked before the first
    payout; an inactive one fails the withdrawal (money back) without any transfer."""
    from central.payouts import methods

    with pay_app.app_context():
        methods.add_momo(db.session, actor(people, ARTIST), PARTY, INACTIVE_NUMBER, "mtn", None, 24)
        db.session.commit()
    withdrawal_id = request(pay_app, people, 10_000)
    assert approve(pay_app, people, withdrawal_id) == FAILED
    assert state(pay_app, withdrawal_id).provider_reason == "ACCOUNT_INACTIVE"
    assert sim.transfers()["transfers"] == []
    assert money(pay_app) == (500_000, 500_000)
    assert_verified(pay_app)
