"""The console's payouts: an artist registers a number and asks for a withdrawal through CSRF
forms; the admin approves it and it is paid through the simulator; an auditor reads but cannot
decide; station staff have no payouts; another party's withdrawal is a 404."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from central.payouts import jobs
from central.payouts.momo import MomoProvider
from tests.integration.central.payouts.conftest import (
    API_KEY,
    API_USER,
    SUBSCRIPTION_KEY,
    SUCCESS_NUMBER,
    Sim,
    fund,
)

pytestmark = pytest.mark.integration
_DETAIL = re.compile(r"/payouts/([0-9]+)$")


@pytest.fixture
def paying(pg_app: Flask, sim: Sim) -> Flask:
    """pg_app paying through the simulator."""
    pg_app.extensions[jobs.PROVIDER_KEY] = MomoProvider(
        sim.url, API_USER, API_KEY, SUBSCRIPTION_KEY, timeout_s=2
    )
    return pg_app


def test_an_artist_withdraws_and_the_admin_pays(paying: Flask, console_client) -> None:
    """Number, withdrawal (held), approval, paid; each form needs its CSRF token."""
    artist = console_client("artist")
    fund(paying, "artist:ama:earnings", 80_000, "test:fund:console")
    page = artist.get("/payouts")
    assert page.status_code == 200 and "Register a mobile-money number" in page.text
    forged = artist.post("/payouts/method", data={"msisdn": SUCCESS_NUMBER})
    assert forged.status_code == 400
    saved = artist.form("/payouts/method", {"msisdn": SUCCESS_NUMBER, "account_name": "Ama"})
    assert saved.status_code == 303
    page = artist.get("/payouts")
    assert "********4567" in page.text and "Ask for this withdrawal" in page.text
    bad = artist.form("/payouts/withdraw", {"amount": "12.345"})
    assert bad.status_code == 400 and "a sum like 250" in bad.text
    over = artist.form("/payouts/withdraw", {"amount": "900"})
    assert over.status_code == 400 and "available balance is 80000" in over.text
    asked = artist.form("/payouts/withdraw", {"amount": "250.50"})
    assert asked.status_code == 303
    withdrawal_path = _DETAIL.search(asked.headers["Location"]).group(0)
    detail = artist.get(withdrawal_path)
    assert "GHS 250.50" in detail.text and "Cancel this withdrawal" in detail.text
    assert "GHS 549.50" in artist.get("/payouts").text  # available: held at once

    admin = console_client("admin")
    queue = admin.get("/admin/payouts")
    assert queue.status_code == 200 and withdrawal_path in queue.text
    assert "Approve</button>" in admin.get(withdrawal_path).text
    approved = admin.form(f"{withdrawal_path}/approve")
    assert approved.status_code == 303
    done = admin.get(approved.headers["Location"])
    assert "badge-paid" in done.text and "SUCCESSFUL" in done.text


def test_who_may_see_and_decide(paying: Flask, console_client) -> None:
    """An auditor reads the queue but cannot approve (403) nor sees a button; station staff have
    no payouts page; the label cannot see the artist's withdrawal (404)."""
    artist = console_client("artist")
    fund(paying, "artist:ama:earnings", 80_000, "test:fund:console-2")
    artist.form("/payouts/method", {"msisdn": SUCCESS_NUMBER})
    asked = artist.form("/payouts/withdraw", {"amount": "100"})
    withdrawal_path = _DETAIL.search(asked.headers["Location"]).group(0)
    auditor = console_client("auditor")
    assert auditor.get("/admin/payouts").status_code == 200
    page = auditor.get(withdrawal_path)
    assert page.status_code == 200 and "Approve</button>" not in page.text
    assert auditor.form(f"{withdrawal_path}/approve").status_code == 403
    assert console_client("station").get("/payouts").status_code == 403
    assert console_client("rights_holder").get(withdrawal_path).status_code == 404
    cancelled = artist.form(f"{withdrawal_path}/cancel")
    assert cancelled.status_code == 303
    assert "badge-cancelled" in artist.get(withdrawal_path).text
