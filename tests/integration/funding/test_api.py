"""The funding API on PostgreSQL: admins record top-ups and issue invoices (once each), station
staff read only their own stations' (another station's invoice: 404), auditors read all."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask

from central.extensions import db
from central.ledger.accounts import account_spec, open_account
from central.ledger.queries import balance

pytestmark = pytest.mark.integration

TOPUPS, INVOICES = "/api/v1/topups", "/api/v1/invoices"


def topup(**changes: object) -> dict:
    """A body of POST /topups for joy-fm."""
    return {"station": "joy-fm", "amount_minor": 5000, "method": "momo",
            "reference": "MP2611.0042", "received_on": "2025-11-30", **changes}  # fmt: skip


@pytest.fixture
def wallets(pg_app: Flask, people) -> None:
    """Postpaid wallets for joy-fm and peace-fm (no floor, as royalties open them)."""
    with pg_app.app_context():
        for code in ("joy-fm", "peace-fm"):
            spec = account_spec(f"station:{code}:wallet", "station_wallet", unbounded=True)
            open_account(db.session, spec)
        db.session.commit()


def test_admins_record_a_top_up_once(pg_app: Flask, people, call, wallets) -> None:
    """201 with the top-up and its transfer; the same body again is that top-up (created
    false), another amount under the reference 409, an unknown station 404, staff 403; an
    Idempotency-Key replays the first answer."""
    admin = people["admin"]
    first = call("POST", TOPUPS, admin, json=topup(note="slip 42"))
    assert first.status_code == 201, first.json
    assert first.json["created"] and first.json["reference"] == "MP2611.0042"
    assert first.json["recorded_by"].startswith("user:") and first.json["recorded_via"] == "api"
    again = call("POST", TOPUPS, admin, json=topup(reference="mp2611.0042"))
    assert again.status_code == 201 and not again.json["created"]
    assert again.json["id"] == first.json["id"]
    conflict = call("POST", TOPUPS, admin, json=topup(amount_minor=6000))
    assert conflict.status_code == 409 and "not 6000" in conflict.json["detail"]
    assert call("POST", TOPUPS, admin, json=topup(station="nowhere")).status_code == 404
    assert call("POST", TOPUPS, admin, json=topup(reference="MP 1")).status_code == 400
    assert call("POST", TOPUPS, people["station"], json=topup()).status_code == 403
    key = {"Idempotency-Key": "pay-7"}
    made = call("POST", TOPUPS, admin, json=topup(reference="B7"), headers=key)
    replay = call("POST", TOPUPS, admin, json=topup(reference="B7"), headers=key)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json == made.json
    with pg_app.app_context():
        assert balance(db.session, "station:joy-fm:wallet").balance_minor == 10_000


def test_admins_issue_an_invoice_once(pg_app: Flask, people, call, wallets) -> None:
    """201 with the invoice; again: the same (created false); a month not over, a prepaid
    station: 409; staff 403."""
    admin = people["admin"]
    body = {"station": "joy-fm", "month": "2025-11"}
    first = call("POST", INVOICES, admin, json=body)
    assert first.status_code == 201 and first.json["created"], first.json
    assert first.json["number"] == "ZIO-2025-11-joy-fm" and first.json["status"] == "paid"
    again = call("POST", INVOICES, admin, json=body)
    assert again.status_code == 201 and not again.json["created"]
    future = call("POST", INVOICES, admin, json={"station": "joy-fm", "month": "2999-01"})
    assert future.status_code == 409 and "not over" in future.json["detail"]
    assert (
        call("POST", INVOICES, admin, json={"station": "joy-fm", "month": "2025-13"}).status_code
        == 400
    )
    assert call("POST", INVOICES, people["station"], json=body).status_code == 403


def test_station_staff_read_their_own_stations_only(
    pg_app: Flask,
    people,
    call,
    wallets,
) -> None:
    """Staff of joy-fm list joy-fm's top-ups and invoices; peace-fm's invoice, its CSV and a
    peace-fm filter are 404; auditors list both; the CSV has a header and the invoice's lines."""
    admin = people["admin"]
    for station, reference in (("joy-fm", "J1"), ("peace-fm", "P1")):
        assert (
            call(
                "POST", TOPUPS, admin, json=topup(station=station, reference=reference)
            ).status_code
            == 201
        )
        issued = call("POST", INVOICES, admin, json={"station": station, "month": "2025-11"})
        assert issued.status_code == 201
    staff, auditor = people["station"], people["auditor"]
    mine = call("GET", TOPUPS, staff).json["topups"]
    assert [t["reference"] for t in mine] == ["J1"]
    assert [i["station"] for i in call("GET", INVOICES, staff).json["invoices"]] == ["joy-fm"]
    assert call("GET", TOPUPS, staff, query_string={"station": "peace-fm"}).status_code == 404
    assert call("GET", f"{INVOICES}/ZIO-2025-11-peace-fm", staff).status_code == 404
    assert call("GET", f"{INVOICES}/ZIO-2025-11-peace-fm/lines.csv", staff).status_code == 404
    own = call("GET", f"{INVOICES}/ZIO-2025-11-joy-fm", staff)
    assert own.status_code == 200 and own.json["lines"] == [] and own.json["payments"] == []
    download = call("GET", f"{INVOICES}/ZIO-2025-11-joy-fm/lines.csv", staff)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert next(csv.reader(io.StringIO(download.text)))[:3] == ["invoice", "station", "month"]
    seen = {t["reference"] for t in call("GET", TOPUPS, auditor).json["topups"]}
    assert seen == {"J1", "P1"}
    page = call("GET", INVOICES, auditor, query_string={"limit": 1}).json
    rest = call("GET", INVOICES, auditor, query_string={"limit": 1, "cursor": page["next_cursor"]})
    assert {page["invoices"][0]["station"], rest.json["invoices"][0]["station"]} == {
        "joy-fm",
        "peace-fm",
    }
    assert rest.json["next_cursor"] is None
    assert call("GET", INVOICES, people["artist"]).status_code == 403
