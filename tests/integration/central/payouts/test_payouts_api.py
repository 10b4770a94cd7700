"""The payouts API: a party's methods and withdrawals (its own only), retries by
Idempotency-Key, admins' approval and rejection, refusals as problems, the provider's callback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from central.auth import users
from central.auth.tokens import create_token
from central.extensions import db, utc_now
from tests.integration.central.payouts.conftest import (
    ADMINS,
    ARTIST,
    OTHER_ARTIST,
    PARTY,
    SUCCESS_NUMBER,
    Sim,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def tokens(pay_app: Flask, people) -> dict[str, str]:
    """A token of every scope its role allows, by email."""
    from central.auth import roles

    found = {}
    with pay_app.app_context():
        for email in (ARTIST, OTHER_ARTIST, *ADMINS):
            user = users.get_user(db.session, email)
            _, secret = create_token(db.session, user, "test", sorted(roles.allowed_scopes(
                user.role)), timedelta(days=1), utc_now())  # fmt: skip
            found[email] = secret
        db.session.commit()
    return found


def call(app: Flask, method: str, path: str, token: str, **kwargs):  # noqa: ANN201
    """One API request with a bearer token."""
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return app.test_client().open(path, method=method, headers=headers, **kwargs)


def test_a_party_withdraws_and_an_admin_pays(pay_app: Flask, tokens, sim: Sim) -> None:
    """Method, request (retried with one key: one withdrawal), list, approve: paid."""
    artist, admin = tokens[ARTIST], tokens[ADMINS[0]]
    added = call(
        pay_app,
        "POST",
        "/api/v1/payouts/methods",
        artist,
        json={"msisdn": SUCCESS_NUMBER, "network": "mtn", "account_name": "Ama"},
    )
    assert added.status_code == 201, added.json
    assert added.json["number"].endswith("4567") and "024123" not in added.json["number"]
    assert added.json["checked"] is True
    headers = {"Idempotency-Key": "ama-2026-12-06-1"}
    first = call(pay_app, "POST", "/api/v1/payouts/withdrawals", artist,
                 json={"amount_minor": 40_000}, headers=headers)  # fmt: skip
    again = call(pay_app, "POST", "/api/v1/payouts/withdrawals", artist,
                 json={"amount_minor": 40_000}, headers=headers)  # fmt: skip
    assert first.status_code == 201 and again.json["id"] == first.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    withdrawal_id = first.json["id"]
    listed = call(pay_app, "GET", "/api/v1/payouts/withdrawals", artist).json["withdrawals"]
    assert [w["id"] for w in listed] == [withdrawal_id]
    approved = call(pay_app, "POST", f"/api/v1/payouts/withdrawals/{withdrawal_id}/approve", admin)
    assert approved.status_code == 200 and approved.json["status"] == "paid", approved.json
    assert approved.json["history"][-1]["to"] == "paid"
    twice = call(pay_app, "POST", f"/api/v1/payouts/withdrawals/{withdrawal_id}/approve", admin)
    assert twice.status_code == 409 and "paid cannot become approved" in twice.json["detail"]
    shown = call(pay_app, "GET", f"/api/v1/payouts/withdrawals/{withdrawal_id}", artist)
    assert shown.json["status"] == "paid" and shown.json["provider_id"]


def test_another_partys_withdrawal_is_404_and_refusals_are_problems(
    pay_app: Flask, tokens, sim: Sim
) -> None:
    """Kofi cannot see or cancel Ama's withdrawal; over the balance and under the minimum are
    400 with the reason; a rejection needs a reason; the party is told, its money back."""
    artist, other, admin = tokens[ARTIST], tokens[OTHER_ARTIST], tokens[ADMINS[0]]
    call(pay_app, "POST", "/api/v1/payouts/methods", artist, json={"msisdn": SUCCESS_NUMBER})
    made = call(
        pay_app, "POST", "/api/v1/payouts/withdrawals", artist, json={"amount_minor": 9_000}
    )
    withdrawal_id = made.json["id"]
    for method, path in [("GET", ""), ("POST", "/cancel")]:
        response = call(
            pay_app, method, f"/api/v1/payouts/withdrawals/{withdrawal_id}{path}", other
        )
        assert response.status_code == 404, response.json
    assert call(pay_app, "GET", "/api/v1/payouts/withdrawals", other).json["withdrawals"] == []
    over = call(pay_app, "POST", "/api/v1/payouts/withdrawals", artist,
                json={"amount_minor": 10_000_000})  # fmt: skip
    assert over.status_code == 400 and "available balance is 491000" in over.json["detail"]
    under = call(pay_app, "POST", "/api/v1/payouts/withdrawals", artist, json={"amount_minor": 5})
    assert under.status_code == 400 and "smallest" in under.json["detail"]
    foreign = call(pay_app, "POST", "/api/v1/payouts/withdrawals", artist,
                   json={"amount_minor": 5_000, "party": "artist:kofi:earnings"})  # fmt: skip
    assert foreign.status_code == 404
    bare = call(pay_app, "POST", f"/api/v1/payouts/withdrawals/{withdrawal_id}/reject", admin,
                json={})  # fmt: skip
    assert bare.status_code == 400
    rejected = call(pay_app, "POST", f"/api/v1/payouts/withdrawals/{withdrawal_id}/reject",
                    admin, json={"reason": "not the artist's number"})  # fmt: skip
    assert rejected.json["status"] == "rejected"
    balances = call(pay_app, "GET", "/api/v1/earnings", artist).json["balances"]
    assert balances[0]["available_minor"] == 500_000


def test_the_callback_only_makes_zamio_ask(pay_app: Flask, tokens, sim: Sim) -> None:
    """A callback for an unknown reference is 404; for ours it is taken, and a forged body
    changes nothing: the status comes from the provider."""
    artist, admin = tokens[ARTIST], tokens[ADMINS[0]]
    client = pay_app.test_client()
    unknown = client.put("/api/v1/payouts/callbacks/mtn-momo/3f1c0b7e-8a43-4b8e-9a58-0e5d1d2b6c11",
                         json={"status": "SUCCESSFUL"})  # fmt: skip
    assert unknown.status_code == 404
    call(pay_app, "POST", "/api/v1/payouts/methods", artist, json={"msisdn": SUCCESS_NUMBER})
    made = call(
        pay_app, "POST", "/api/v1/payouts/withdrawals", artist, json={"amount_minor": 9_000}
    )
    withdrawal_id, reference = made.json["id"], made.json["reference"]
    forged = client.put(f"/api/v1/payouts/callbacks/mtn-momo/{reference}",
                        json={"status": "SUCCESSFUL", "financialTransactionId": "x"})  # fmt: skip
    assert forged.status_code == 404  # not sent to the provider yet: nothing to ask about
    shown = call(pay_app, "GET", f"/api/v1/payouts/withdrawals/{withdrawal_id}", artist).json
    assert shown["status"] == "requested"
    call(pay_app, "POST", f"/api/v1/payouts/withdrawals/{withdrawal_id}/approve", admin)
    taken = client.put(f"/api/v1/payouts/callbacks/mtn-momo/{reference}", json={})
    assert taken.status_code == 200 and taken.json == {"accepted": True}
    shown = call(pay_app, "GET", f"/api/v1/payouts/withdrawals/{withdrawal_id}", artist).json
    assert shown["status"] == "paid" and shown["party"] == PARTY


def test_callbacks_are_counted_per_transfer_not_per_address(pay_app: Flask) -> None:
    """A provider sends every callback from a few addresses: the API's per-address limit would
    refuse them; they are counted per transfer instead."""
    from tests.integration.central.auth.conftest import set_limits

    set_limits(pay_app, api_rate_limit="3 per minute")
    client = pay_app.test_client()
    for n in range(6):
        reference = f"3f1c0b7e-8a43-4b8e-9a58-0e5d1d2b6c{n:02d}"
        assert client.put(f"/api/v1/payouts/callbacks/mtn-momo/{reference}").status_code == 404
    same = "/api/v1/payouts/callbacks/mtn-momo/3f1c0b7e-8a43-4b8e-9a58-0e5d1d2b6c00"
    assert [client.put(same).status_code for _ in range(3)] == [404, 404, 429]
