"""Station funding in the console: the admin's page to record a top-up or issue an invoice and
to read every station's (auditors read it too), and each station's own top-ups and invoices
under /stations/<code> (another station's: 404). Thin over central/funding, as the API is."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, NotFound

from central import worker
from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN, AUDITOR, STATION
from central.extensions import db, utc_now
from central.funding import invoices, queries, rules, topups
from central.funding.errors import FundingError, TopUpConflict
from central.funding.models import Invoice
from central.ledger.errors import InvalidTransfer
from central.ledger.money import DEFAULT_CURRENCY, format_minor, parse_minor
from central.stations import store as stations
from central.stations.models import Station
from central.times import now_ms

blueprint = Blueprint("console_funding", __name__)
READERS = (ADMIN, AUDITOR)
STAFF = (ADMIN, AUDITOR, STATION)
PAGE = 50
VIA = "console"
TOPUP_FIELDS = ("station", "amount", "method", "reference", "received_on", "note", "invoice")


@blueprint.get("/admin/funding")
@policy(READERS, scope="stations:read")
def admin_funding() -> ResponseReturnValue:
    """Every station's top-ups and invoices (or one station's), newest first; the forms."""
    return _admin_page()


def _admin_page(
    error: str | None = None, form: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    """The admin's funding page, with a form's problem and values when it was refused."""
    code = _text("station")
    station = _station(code) if code else None
    lists = _lists(station, url_for("console_funding.admin_funding", station=code))
    html = render_template(
        "funding/admin.html", station=station, station_code=code or "", error=error,
        form=form or {}, message=request.args.get("done"), methods=rules.METHODS,
        stations=stations.stations(db.session), today=utc_now().date().isoformat(), **lists,
    )  # fmt: skip
    return html, status


@blueprint.post("/admin/funding/topups")
@policy([ADMIN], scope="admin")
def admin_topup() -> ResponseReturnValue:
    """Record a top-up from the form (the API's POST /topups): 303 to the page, or the page
    again with the problem (400, 409 for a reference recorded as another payment)."""
    form = {k: request.form.get(k, "").strip() for k in TOPUP_FIELDS}
    try:
        request_ = _topup_request(form)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        recorded = topups.record_and_fund(
            db.session, worker.app_queue(app), request_, current_principal().actor, VIA,
            utc_now().date(),
        )  # fmt: skip
    except (ValueError, FundingError) as error:
        db.session.rollback()
        status = 409 if isinstance(error, TopUpConflict) else 400
        return _admin_page(str(error), form, status)
    row = recorded.topup
    done = (
        f"Top-up {row.id}: {format_minor(row.amount_minor, row.currency)} credited to"
        f" {form['station']}." if recorded.created else f"Top-up {row.id} was recorded before."
    )  # fmt: skip
    return redirect(url_for("console_funding.admin_funding", done=done), 303)


@blueprint.post("/admin/funding/invoices")
@policy([ADMIN], scope="admin")
def admin_invoice() -> ResponseReturnValue:
    """Issue a station's invoice of a month from the form (the API's POST /invoices)."""
    form = {k: request.form.get(k, "").strip() for k in ("station", "month")}
    try:
        issued = invoices.issue_invoice(
            db.session, form["station"], form["month"], current_principal().actor, VIA,
            current_app.config["ZAMIO"].funding_invoice_due_days, now_ms(),
        )  # fmt: skip
    except FundingError as error:
        db.session.rollback()
        return _admin_page(str(error), form, 409)
    number = issued.invoice.number
    db.session.commit()
    done = f"Invoice {number} issued." if issued.created else f"Invoice {number} existed."
    return redirect(url_for("console_funding.admin_funding", done=done), 303)


@blueprint.get("/stations/<code>/funding")
@policy(STAFF, scope="stations:read", owner="station")
def station_funding(code: str) -> ResponseReturnValue:
    """The station's top-ups and invoices, newest first."""
    station = _station(code)
    lists = _lists(station, url_for("console_funding.station_funding", code=code))
    return render_template("funding/station.html", station=station, **lists)


@blueprint.get("/stations/<code>/invoices/<number>")
@policy(STAFF, scope="stations:read", owner="station")
def station_invoice(code: str, number: str) -> ResponseReturnValue:
    """One of the station's invoices: balances, lines per track, the top-ups that paid it."""
    station = _station(code)
    invoice = _invoice(station, number)
    return render_template(
        "funding/invoice.html", station=station, invoice=queries.invoice_detail(db.session, invoice)
    )


@blueprint.get("/stations/<code>/invoices/<number>/lines.csv")
@policy(STAFF, scope="stations:read", owner="station")
def station_invoice_csv(code: str, number: str) -> ResponseReturnValue:
    """One of the station's invoices as CSV (the API's lines.csv)."""
    station = _station(code)
    invoice = _invoice(station, number)
    return Response(
        "".join(invoices.invoice_csv(invoice, station.code)),  # small: not streamed
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.csv"'},
    )


def _topup_request(form: dict[str, str]) -> topups.TopUpRequest:
    """The top-up a form asks for; ValueError says which field is wrong."""
    currency = DEFAULT_CURRENCY
    try:
        amount_minor = parse_minor(form["amount"], currency)
    except InvalidTransfer:
        shown = form["amount"][:20]
        raise ValueError(f"amount {shown!r}: a {currency} amount like 50.00") from None
    received = None
    if form["received_on"]:
        try:
            received = date.fromisoformat(form["received_on"])
        except ValueError:
            raise ValueError("received on: a date like 2026-11-30") from None
    return topups.TopUpRequest(
        form["station"], amount_minor, form["method"], form["reference"], received,
        form["note"] or None, form["invoice"] or None,
    )  # fmt: skip


def _lists(station: Station | None, here: str) -> dict[str, Any]:
    """A page of top-ups and one of invoices (of the station, if given, within the caller's
    scope), each with the link to its next page."""
    scope = current_principal().station_ids
    station_id = station.id if station else None
    before_t, before_i = _int_arg("topups_before"), _int_arg("invoices_before")
    found_t = topups.topups(db.session, scope, station_id, PAGE + 1, before_t)
    found_i = invoices.invoices(db.session, scope, station_id, None, PAGE + 1, before_i)
    joiner = "&" if "?" in here else "?"
    return {
        "topups": topups.topup_records(db.session, found_t[:PAGE]),
        "invoices": [invoices.invoice_record(i, c) for i, c in found_i[:PAGE]],
        "topups_next": None if len(found_t) <= PAGE else
        f"{here}{joiner}topups_before={found_t[PAGE - 1][0].id}",
        "invoices_next": None if len(found_i) <= PAGE else
        f"{here}{joiner}invoices_before={found_i[PAGE - 1][0].id}",
    }  # fmt: skip


def _invoice(station: Station, number: str) -> Invoice:
    """The station's invoice with this number, or 404."""
    invoice = invoices.find_invoice(db.session, number)
    if invoice is None or invoice.station_id != station.id:
        raise NotFound(f"no invoice {number[:100]}")
    return invoice


def _station(code: str) -> Station:
    """The station with this code, or 404."""
    station = stations.find_station(db.session, code) if stations.CODE.fullmatch(code) else None
    if station is None:
        raise NotFound(f"no station {code[:80]}")
    return station


def _text(name: str) -> str | None:
    """A short text query parameter, trimmed (None: not given); 400 past 200 characters."""
    value = (request.args.get(name) or "").strip()
    if len(value) > 200:
        raise BadRequest(f"{name}: at most 200 characters")
    return value or None


def _int_arg(name: str) -> int | None:
    """A whole-number query parameter (None: not given), or 400."""
    value = request.args.get(name)
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise BadRequest(f"{name}: a whole number")
    return int(value)
