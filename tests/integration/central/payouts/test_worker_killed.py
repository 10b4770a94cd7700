"""A worker SIGKILLed between the request to the provider and the post: the withdrawal is left
`sending` with its reference; the sweep asks the provider about that reference and posts the
payout once. No second transfer exists at the provider."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from flask import Flask

from central import create_app
from central.extensions import db
from central.payouts import actions, disburse, jobs, withdrawals
from central.payouts.models import PAID, SENDING
from central.payouts.withdrawals import Actor
from tests.conftest import disposed
from tests.integration.central.payouts.conftest import (
    ADMINS,
    ARTIST,
    PARTY,
    SUCCESS_NUMBER,
    Sim,
    momo_settings,
)
from tests.integration.central.payouts.test_withdrawals import assert_verified, payout_transfers

pytestmark = pytest.mark.integration


def test_a_killed_worker_leaves_one_transfer_paid_once(
    pay_app: Flask, pg_database_url: str, redis_url: str, people, sim: Sim
) -> None:
    """Kill the worker while the provider holds its request; the sweep settles it."""
    settings = {**momo_settings(sim), "MOMO_TIMEOUT_S": 60}
    app = create_app({"DATABASE_URL": pg_database_url, "REDIS_URL": redis_url, **settings})
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
    env |= {f"ZAMIO_{k}": str(v) for k, v in settings.items()}
    env |= {"ZAMIO_DATABASE_URL": pg_database_url, "ZAMIO_REDIS_URL": redis_url}
    ama = Actor(f"user:{people[ARTIST]}", "api", people[ARTIST])
    admin = Actor(f"user:{people[ADMINS[0]]}", "api", people[ADMINS[0]])
    sim.faults(timeout_next=1, hold_ms=30_000)  # stored, then no answer for 30 s
    with app.app_context():
        actions.add_momo_method(app, ama, PARTY, SUCCESS_NUMBER, "mtn")
        withdrawal_id = actions.request_withdrawal(app, ama, PARTY, 70_000).id
        actions.approve(app, admin, withdrawal_id)  # enqueued on Redis: nobody runs it yet
    worker = subprocess.Popen(
        [sys.executable, "-m", "central", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip (its own process group: its RQ scheduler child dies with it)
    try:
        deadline = time.monotonic() + 60
        while not sim.transfers()["transfers"]:
            assert time.monotonic() < deadline, "the worker never sent the transfer"
            time.sleep(0.1)
        os.killpg(worker.pid, signal.SIGKILL)  # between the request and its answer
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    with pay_app.app_context():
        assert withdrawals.get(db.session, withdrawal_id).status == SENDING
        provider = jobs.provider_for(pay_app)
        for _ in range(100):  # what sweep_payouts does for it, once its check is due
            found = disburse.check(db.session, provider, withdrawal_id)
            if found.status == PAID:
                break
            time.sleep(0.1)
        assert found.status == PAID
    held = sim.transfers()["transfers"]
    assert len(held) == 1 and held[0]["posts"] == 1
    assert payout_transfers(pay_app, withdrawal_id) == ["pending", "posted_from_pending"]
    assert_verified(pay_app)
    disposed(app)
