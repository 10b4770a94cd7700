"""The sweep's grace covers a withdrawal whose request to the provider is under way: `send`
commits it `sending` with no check time set, then makes the request; the sweep must leave it to
that worker for SWEEP_GRACE_S (as it does an approved one), and pick it up only once it is that
old (its worker died). Without the grace, every sweep sent a second check for each withdrawal
being sent at that moment, and that check's own follow-up made a second chain of checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from central.extensions import db
from central.payouts import disburse, withdrawals
from central.payouts.models import SENDING
from central.payouts.withdrawals import SYSTEM
from tests.integration.central.payouts.conftest import ADMINS, Sim
from tests.integration.central.payouts.test_withdrawals import actor, add_method, request

pytestmark = pytest.mark.integration


def test_a_withdrawal_being_sent_is_swept_only_after_the_grace(
    pay_app: Flask, people, sim: Sim
) -> None:
    """`sending` with no check time, just now: not due with the grace, due without it; once
    it has been so for longer than the grace: due."""
    add_method(pay_app, people)
    withdrawal_id = request(pay_app, people, 10_000)
    with pay_app.app_context():
        found = withdrawals.approve(db.session, actor(people, ADMINS[0]), withdrawal_id)
        withdrawals.move(db.session, found, SYSTEM, SENDING, "sending to mtn-momo")
        db.session.commit()  # what send() commits before its request goes out
        assert found.next_check_at is None
        assert disburse.due(db.session, grace_s=disburse.SWEEP_GRACE_S) == []
        assert disburse.due(db.session) == [withdrawal_id]  # `zamio payouts check`: no grace
        found = withdrawals.get(db.session, withdrawal_id, lock=True)
        found.updated_at -= timedelta(seconds=disburse.SWEEP_GRACE_S + 1)
        db.session.commit()  # its worker died as long ago as the grace
        assert disburse.due(db.session, grace_s=disburse.SWEEP_GRACE_S) == [withdrawal_id]
