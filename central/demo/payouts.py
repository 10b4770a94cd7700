"""The demo's payout: the first artist withdraws half of what the broadcast earned them to a
mobile-money number, an admin approves it, and it is paid through the MoMo simulator (run in
this process, on a free port), exactly as production pays through MTN's API."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from central.auth import roles
from central.demo import accounts
from central.extensions import db
from central.payouts import actions, jobs, withdrawals
from central.payouts.momo import MomoProvider
from central.payouts.momo_sim import SimConfig, start_in_thread
from central.payouts.withdrawals import Actor

DEMO_NUMBER = "0241234567"  # any number the simulator does not treat as a test case: paid


@dataclass(frozen=True)
class DemoPayout:
    """What the demo's withdrawal did."""

    withdrawal_id: int
    party: str
    amount_minor: int
    currency: str
    status: str
    reference: str
    number: str  # masked


def start_provider(app: Flask) -> Callable[[], None]:
    """Run the MoMo simulator in this process and make it `app`'s payout provider; stop()."""
    config = SimConfig(
        api_user=str(uuid.uuid4()), api_key=secrets.token_urlsafe(24),
        subscription_key=secrets.token_urlsafe(24), success_delay_ms=200,
    )  # fmt: skip
    url, stop = start_in_thread(config)
    app.extensions[jobs.PROVIDER_KEY] = MomoProvider(
        url, config.api_user, config.api_key, config.subscription_key, timeout_s=5
    )
    return stop


def pay_artist(app: Flask, party: str) -> DemoPayout | None:
    """Withdraw half of `party`'s available earnings (if over the minimum), approved by the
    demo's admin; None when there is too little to withdraw."""
    settings = app.config["ZAMIO"]
    with app.app_context():
        available = withdrawals.available_minor(db.session, party)
        amount = available // 2
        if amount < settings.payouts_minimum_minor:
            return None
        artist = accounts._user(accounts.artist_email(party), roles.ARTIST, (), (party,), None)
        admin = accounts._user(accounts.ADMIN_EMAIL, roles.ADMIN, (), (), None)
        db.session.commit()
        by_artist = Actor(f"user:{artist.id}", "cli", artist.id)
        actions.add_momo_method(app, by_artist, party, DEMO_NUMBER, "mtn", "Demo artist")
        asked = actions.request_withdrawal(app, by_artist, party, amount)
        paid = actions.approve(app, Actor(f"user:{admin.id}", "cli", admin.id), asked.id)
        record = withdrawals.record(paid)
        return DemoPayout(
            paid.id, party, amount, paid.currency, paid.status, record["reference"],
            record["method"]["number"],
        )  # fmt: skip
