"""The funding pages of the console on PostgreSQL: the admin's form records a top-up with its
CSRF token (and is refused without it), auditors read without the forms, station staff see
their own station's top-ups and invoices and get 404 for another station's."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from central.extensions import db
from central.funding import invoices
from central.funding.models import TopUp
from central.ledger.accounts import account_spec, open_account
from central.ledger.queries import balance

pytestmark = pytest.mark.integration

FORM = {"station": "joy-fm", "amount": "120.50", "method": "bank", "reference": "FT-9",
        "received_on": "2025-11-30", "note": "November", "invoice": ""}  # fmt: skip


@pytest.fixture
def invoiced(pg_app: Flask, console_people) -> None:
    """joy-fm and peace-fm postpaid, each with its invoice of 2025-11."""
    with pg_app.app_context():
        for code in ("joy-fm", "peace-fm"):
            spec = account_spec(f"station:{code}:wallet", "station_wallet", unbounded=True)
            open_account(db.session, spec)
            invoices.issue_invoice(db.session, code, "2025-11", "test", "cli", 30, int(1e13))
        db.session.commit()


def topup_count(app: Flask) -> int:
    """Top-up rows recorded."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(TopUp))


def test_the_admin_records_a_top_up_with_the_form(pg_app: Flask, console_client, invoiced) -> None:
    """The page has both forms; the top-up form (GHS 120.50 against an invoice) redirects
    with what was done and credits the wallet once (posted again: recorded before); another
    amount under its reference is 409, a bad amount 400; the invoice form issues one."""
    admin = console_client("admin")
    page = admin.get("/admin/funding")
    assert (
        page.status_code == 200
        and 'name="reference"' in page.text
        and "Issue an invoice" in page.text
    )
    assert "ZIO-2025-11-joy-fm" in page.text and "ZIO-2025-11-peace-fm" in page.text
    done = admin.form("/admin/funding/topups", {**FORM, "invoice": "ZIO-2025-11-joy-fm"})
    assert done.status_code == 303, done.text
    again = admin.form("/admin/funding/topups", FORM)
    assert again.status_code == 303 and "recorded+before" in again.headers["Location"]
    shown = admin.get(again.headers["Location"])
    assert "FT-9" in shown.text and "120.50" in shown.text
    with pg_app.app_context():
        assert balance(db.session, "station:joy-fm:wallet").balance_minor == 12_050
    assert topup_count(pg_app) == 1
    refused = admin.form("/admin/funding/topups", {**FORM, "amount": "99"})
    assert refused.status_code == 409 and "one reference is one payment" in refused.text
    bad = admin.form("/admin/funding/topups", {**FORM, "reference": "R2", "amount": "12.345"})
    assert bad.status_code == 400 and "GHS amount" in bad.text
    issued = admin.form("/admin/funding/invoices", {"station": "joy-fm", "month": "2025-10"})
    assert issued.status_code == 303 and "ZIO-2025-10-joy-fm" in issued.headers["Location"]


def test_a_form_without_its_csrf_token_is_refused(pg_app: Flask, console_client, invoiced) -> None:
    """No token, or a made-up one: 400, nothing recorded."""
    admin = console_client("admin")
    assert admin.post("/admin/funding/topups", data=FORM).status_code == 400
    forged = admin.post("/admin/funding/topups", data={**FORM, "csrf_token": "forged"})
    assert forged.status_code == 400
    assert topup_count(pg_app) == 0


def test_auditors_read_without_the_forms(pg_app: Flask, console_client, invoiced) -> None:
    """The page without the forms; posting one is 403."""
    auditor = console_client("auditor")
    page = auditor.get("/admin/funding")
    assert page.status_code == 200 and 'name="reference"' not in page.text
    assert auditor.form("/admin/funding/topups", FORM).status_code == 403
    assert topup_count(pg_app) == 0


def test_station_staff_see_their_own_funding_only(pg_app: Flask, console_client, invoiced) -> None:
    """joy-fm's staff: the Funding tab, the invoice page, its CSV and the wallet page's latest;
    peace-fm's pages and invoice are 404; the admin page is 403."""
    admin, staff = console_client("admin"), console_client("station")
    assert admin.form("/admin/funding/topups", FORM).status_code == 303
    tab = staff.get("/stations/joy-fm/funding")
    assert tab.status_code == 200 and "FT-9" in tab.text and "ZIO-2025-11-joy-fm" in tab.text
    assert "ZIO-2025-11-peace-fm" not in tab.text and 'aria-current="page">Funding' in tab.text
    invoice = staff.get("/stations/joy-fm/invoices/ZIO-2025-11-joy-fm")
    assert invoice.status_code == 200 and "Nothing was charged in this month." in invoice.text
    download = staff.get("/stations/joy-fm/invoices/ZIO-2025-11-joy-fm/lines.csv")
    assert download.status_code == 200 and download.text.startswith("invoice,station,month")
    wallet = staff.get("/stations/joy-fm/wallet")
    assert "ZIO-2025-11-joy-fm" in wallet.text and "FT-9" in wallet.text
    for path in ("/stations/peace-fm/funding", "/stations/peace-fm/invoices/ZIO-2025-11-peace-fm",
                 "/stations/joy-fm/invoices/ZIO-2025-11-peace-fm"):  # fmt: skip
        assert staff.get(path).status_code == 404, path
    assert staff.get("/admin/funding").status_code == 403
