"""The payout steps as the API, the console and the CLI take them: the domain step, the commit,
then the job it starts (so no view or command holds its own copy of these rules)."""

from __future__ import annotations

import uuid

from flask import Flask
from sqlalchemy import select

from central.extensions import db
from central.payouts import jobs, methods, reconcile, withdrawals
from central.payouts.models import PayoutMethod, ReconcileRun, Withdrawal
from central.payouts.withdrawals import Actor


def add_momo_method(
    app: Flask, actor: Actor, party: str, msisdn: str, network: str | None, account_name: str = ""
) -> PayoutMethod:
    """Register a mobile-money number for `party`, checked with the provider when one is set."""
    settings = app.config["ZAMIO"]
    method = methods.add_momo(
        db.session, actor, party, msisdn, network, jobs.provider_for(app),
        settings.payouts_cooling_off_hours, account_name,
    )  # fmt: skip
    db.session.commit()
    return method


def add_bank_method(
    app: Flask, actor: Actor, party: str, bank: str, account_number: str, account_name: str
) -> PayoutMethod:
    """Register a bank account for `party` (its payouts go out by a manual export)."""
    settings = app.config["ZAMIO"]
    method = methods.add_bank(
        db.session, actor, party, bank, account_number, account_name,
        settings.payouts_cooling_off_hours,
    )  # fmt: skip
    db.session.commit()
    return method


def request_withdrawal(
    app: Flask, actor: Actor, party: str, amount_minor: int, key: str | None = None
) -> Withdrawal:
    """Ask for a withdrawal; its money is held when this returns."""
    settings = app.config["ZAMIO"]
    return _commit(lambda: withdrawals.request(
        db.session, actor, party, amount_minor, settings.payouts_minimum_minor,
        settings.payouts_four_eyes_minor, key,
    ))  # fmt: skip


def approve(app: Flask, actor: Actor, withdrawal_id: int) -> Withdrawal:
    """One admin's approval; the last one needed sends the withdrawal."""
    withdrawal = _commit(lambda: withdrawals.approve(db.session, actor, withdrawal_id))
    jobs.enqueue_send(app, withdrawal)
    return withdrawals.get(db.session, withdrawal_id)


def reject(app: Flask, actor: Actor, withdrawal_id: int, reason: str) -> Withdrawal:
    """An admin refuses the withdrawal; the money goes back."""
    return _commit(lambda: withdrawals.reject(db.session, actor, withdrawal_id, reason))


def cancel(app: Flask, actor: Actor, withdrawal_id: int) -> Withdrawal:
    """The party takes back a withdrawal no admin approved yet."""
    return _commit(lambda: withdrawals.cancel(db.session, actor, withdrawal_id))


def _commit(step) -> Withdrawal:  # noqa: ANN001 (a function of no arguments)
    """Run `step`, then commit; roll back on any error."""
    try:
        withdrawal = step()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return withdrawal


def callback(app: Flask, provider_name: str, reference: str) -> bool:
    """A provider's callback about `reference`: ask the provider (never the callback's body);
    whether the reference is one of ours."""
    try:
        key = uuid.UUID(reference)
    except ValueError:
        return False
    withdrawal = db.session.scalar(
        select(Withdrawal).where(Withdrawal.reference == key, Withdrawal.provider == provider_name)
    )
    db.session.commit()
    if withdrawal is None:
        return False
    jobs.enqueue_check(app, withdrawal)
    return True


def reconcile_now(app: Flask, actor: Actor) -> ReconcileRun | None:
    """Reconcile now; None when no provider is set."""
    provider = jobs.provider_for(app)
    if provider is None:
        return None
    run = reconcile.reconcile(db.session, provider, actor.name)
    db.session.commit()
    return run
