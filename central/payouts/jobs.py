"""The RQ jobs of payouts, and the steps views and commands take (each commits, then enqueues).

- send_withdrawal(id): an approved withdrawal to the provider (disburse.send), then follow it;
- check_withdrawal(id): ask the provider about one in flight (disburse.check), then follow it;
- sweep_payouts (every SWEEP_PAYOUTS_S): withdrawals whose job was lost (a worker killed between
  the request and the answer) are asked about again, by their one reference;
- reconcile_payouts (daily): reconcile.reconcile against the provider.
Following a withdrawal: with Redis, the next check is a job enqueued for when it is due (RQ's
scheduler runs in `zamio worker`); inline (no Redis) it is checked in this process for up to
INLINE_SETTLE_S, then the sweep (InlineSchedule) goes on.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import Flask

from central import queues
from central.extensions import db
from central.payouts import disburse, reconcile, withdrawals
from central.payouts.models import APPROVED, IN_FLIGHT, Withdrawal
from central.payouts.provider import Provider
from central.worker import app_queue, worker_app, worker_queue

logger = logging.getLogger(__name__)

INLINE_SETTLE_S = 10.0
SWEEP_PAYOUTS_S = 60
RECONCILE_PAYOUTS_S = 86_400
PROVIDER_KEY = "zamio_payout_provider"
CALLBACK_PATH = "/api/v1/payouts/callbacks/{provider}/{reference}"


def provider_for(app: Flask) -> Provider | None:
    """The app's payout provider (from ZAMIO_MOMO_*), made once; None when none is set."""
    if PROVIDER_KEY not in app.extensions:
        from central.payouts.momo import provider_from_settings

        app.extensions[PROVIDER_KEY] = provider_from_settings(app.config["ZAMIO"])
    return app.extensions[PROVIDER_KEY]


def callback_url(app: Flask, provider: Provider, withdrawal: Withdrawal) -> str | None:
    """Where the provider may call back about `withdrawal` (ZAMIO_PUBLIC_URL)."""
    if withdrawal.reference is None:
        return None
    base = app.config["ZAMIO"].public_url.rstrip("/")
    return base + CALLBACK_PATH.format(provider=provider.name, reference=withdrawal.reference)


def send_withdrawal(withdrawal_id: int) -> str:
    """RQ job: send an approved withdrawal, then follow it."""
    return _step(withdrawal_id, disburse.send)


def check_withdrawal(withdrawal_id: int) -> str:
    """RQ job: ask the provider about a withdrawal in flight, then follow it."""
    return _step(withdrawal_id, disburse.check)


def _step(withdrawal_id: int, step) -> str:  # noqa: ANN001 (disburse.send or disburse.check)
    """Run one step of a withdrawal in the worker's app; its status after."""
    app = worker_app()
    with app.app_context():
        provider = provider_for(app)
        if provider is None:
            logger.warning("payout %s: no provider set (ZAMIO_MOMO_URL): waiting", withdrawal_id)
            return "no provider"
        withdrawal = withdrawals.get(db.session, withdrawal_id)
        withdrawal = step(
            db.session, provider, withdrawal_id, callback_url(app, provider, withdrawal)
        )
        withdrawal = _follow(app, provider, withdrawal)
        return withdrawal.status


def _follow(app: Flask, provider: Provider, withdrawal: Withdrawal) -> Withdrawal:
    """Make sure the withdrawal is checked again when due (module docstring)."""
    if withdrawal.status not in IN_FLIGHT:
        return withdrawal
    queue = worker_queue()
    if queue.is_async:
        wait = timedelta(seconds=disburse.settle_wait_s(withdrawal))
        queue.enqueue_in(wait, check_withdrawal, withdrawal.id, retry=queues.retry())
        return withdrawal
    deadline = time.monotonic() + INLINE_SETTLE_S
    while withdrawal.status in IN_FLIGHT:
        wait = disburse.settle_wait_s(withdrawal)
        if time.monotonic() + wait > deadline:
            break
        time.sleep(wait)
        url = callback_url(app, provider, withdrawal)
        withdrawal = disburse.check(db.session, provider, withdrawal.id, url)
    return withdrawal


def sweep_payouts() -> int:
    """Periodic job: move on every withdrawal whose next step is overdue; how many."""
    app = worker_app()
    with app.app_context():
        if provider_for(app) is None:
            return 0
        due = disburse.due(db.session, grace_s=disburse.SWEEP_GRACE_S)
        db.session.commit()
        queue = worker_queue()
        for withdrawal_id in due:
            if queue.is_async:
                queue.enqueue(check_withdrawal, withdrawal_id, retry=queues.retry())
            else:
                check_withdrawal(withdrawal_id)
        return len(due)


def reconcile_payouts() -> int:
    """Periodic job (daily): reconcile the payouts with the provider; the mismatches found."""
    app = worker_app()
    with app.app_context():
        provider = provider_for(app)
        if provider is None:
            return 0
        run = reconcile.reconcile(db.session, provider, "system")
        db.session.commit()
        if run.mismatches:
            logger.error("payouts: reconciliation %s found %d mismatches", run.id, run.mismatches)
        return run.mismatches


def enqueue_send(app: Flask, withdrawal: Withdrawal) -> None:
    """After an approval is committed: send the withdrawal (inline: now, in this process)."""
    if withdrawal.status == APPROVED:
        app_queue(app).enqueue(send_withdrawal, withdrawal.id, retry=queues.retry())


def enqueue_check(app: Flask, withdrawal: Withdrawal) -> None:
    """After a provider's callback: ask about the withdrawal now (the callback is not trusted)."""
    if withdrawal.status in IN_FLIGHT:
        app_queue(app).enqueue(check_withdrawal, withdrawal.id, retry=queues.retry())
