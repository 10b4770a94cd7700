"""Station funding: admins record top-ups (payments received) and issue monthly invoices;
admins and auditors read every station's, station staff their own stations' (another
station's invoice is 404). Integers in minor units; dates ISO-8601."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from apiflask import APIBlueprint, Schema, fields, validators
from flask import Response, current_app
from werkzeug.exceptions import BadRequest, Conflict, NotFound

from central import worker
from central.api import pagination
from central.api.idempotency import idempotent
from central.api.schemas import Strict, cursor_field, limit_field
from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN, AUDITOR, STATION
from central.extensions import db, utc_now
from central.funding import invoices, queries, rules, topups
from central.funding.errors import InvoiceError, TopUpConflict, TopUpInvalid
from central.funding.models import Invoice
from central.ledger.money import AMOUNT_MINOR_MAX
from central.stations import store as stations
from central.stations.models import CODE_CHARS_MAX, Station
from central.times import now_ms

STAFF = (ADMIN, AUDITOR, STATION)
LIMIT_DEFAULT, LIMIT_MAX = 50, 200
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
REFERENCE = r"^\s*[\x21-\x7e]{1,100}\s*$"

blueprint = APIBlueprint("funding", __name__, url_prefix="/api/v1", tag="Funding")


class TopUpIn(Schema):
    """A payment received for a station: how much, how, its reference; optionally when, a
    note and the invoice it pays. The same method and reference again is the same top-up."""

    station = fields.String(required=True, validate=validators.Length(1, CODE_CHARS_MAX))
    amount_minor = fields.Integer(
        required=True, strict=True, validate=validators.Range(1, AMOUNT_MINOR_MAX)
    )
    method = fields.String(required=True, validate=validators.OneOf(rules.METHODS))
    reference = fields.String(
        required=True,
        validate=validators.Regexp(REFERENCE),
        metadata={"description": "the bank, MoMo or receipt reference (kept in upper case)"},
    )
    received_on = fields.Date(metadata={"description": "when it was received (default: today)"})
    note = fields.String(validate=validators.Length(0, rules.NOTE_CHARS_MAX))
    invoice = fields.String(
        validate=validators.Length(1, rules.INVOICE_NUMBER_CHARS_MAX),
        metadata={"description": "the number of the station's invoice it pays"},
    )


class TopUpOut(Schema):
    """A recorded top-up and its ledger transfer; `created` false: recorded before."""

    id = fields.Integer(required=True)
    station = fields.String(required=True)
    method = fields.String(required=True)
    reference = fields.String(required=True)
    amount_minor = fields.Integer(required=True)
    currency = fields.String(required=True)
    received_on = fields.String(required=True)
    note = fields.String(allow_none=True, required=True)
    invoice = fields.String(allow_none=True, required=True)
    transfer_id = fields.String(required=True)
    recorded_by = fields.String(required=True)
    recorded_via = fields.String(required=True)
    recorded_at = fields.String(required=True)
    created = fields.Boolean()


class TopUpList(Schema):
    """Top-ups, newest first, one page."""

    topups = fields.List(fields.Nested(TopUpOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ListQuery(Strict):
    """station, limit, cursor."""

    station = fields.String(validate=validators.Length(1, CODE_CHARS_MAX))
    limit = limit_field(LIMIT_DEFAULT, LIMIT_MAX)
    cursor = cursor_field()


class InvoicesQuery(ListQuery):
    """station, status (open or paid), limit, cursor."""

    status = fields.String(validate=validators.OneOf(rules.INVOICE_STATES))


class InvoiceIn(Schema):
    """The station and the month (YYYY-MM, in the station's time zone) to invoice."""

    station = fields.String(required=True, validate=validators.Length(1, CODE_CHARS_MAX))
    month = fields.String(required=True, validate=validators.Regexp(MONTH))


class InvoiceLineOut(Schema):
    """One line: a track's plays charged in the month, or the other movements."""

    line = fields.Integer(required=True)
    kind = fields.String(required=True)
    track = fields.String(allow_none=True, required=True)
    title = fields.String(allow_none=True, required=True)
    artist = fields.String(allow_none=True, required=True)
    plays = fields.Integer(required=True)
    amount_minor = fields.Integer(required=True)


class InvoiceOut(Schema):
    """An invoice: its month and journal range, balances, what is due and paid, its status."""

    number = fields.String(required=True)
    station = fields.String(required=True)
    month = fields.String(required=True)
    timezone = fields.String(required=True)
    account = fields.String(required=True)
    currency = fields.String(required=True)
    since_ms = fields.Integer(required=True)
    until_ms = fields.Integer(required=True)
    seq_from = fields.Integer(required=True)
    seq_to = fields.Integer(required=True)
    opening_minor = fields.Integer(required=True)
    charged_minor = fields.Integer(required=True)
    payments_minor = fields.Integer(required=True)
    closing_minor = fields.Integer(required=True)
    amount_due_minor = fields.Integer(required=True)
    paid_minor = fields.Integer(required=True)
    status = fields.String(required=True)
    paid_at = fields.String(allow_none=True, required=True)
    due_on = fields.String(required=True)
    issued_at = fields.String(required=True)
    issued_by = fields.String(required=True)
    issued_via = fields.String(required=True)
    created = fields.Boolean()


class InvoiceDetail(InvoiceOut):
    """An invoice with its lines and the top-ups that paid it."""

    lines = fields.List(fields.Nested(InvoiceLineOut), required=True)
    payments = fields.List(fields.Nested(TopUpOut), required=True)


class InvoiceList(Schema):
    """Invoices, newest first, one page."""

    invoices = fields.List(fields.Nested(InvoiceOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


@blueprint.post("/topups")
@policy([ADMIN], scope="admin")
@idempotent
@blueprint.input(TopUpIn, arg_name="body")
@blueprint.output(TopUpOut, status_code=201)
@blueprint.doc(responses=[400, 404, 409])
def topup_add(body: dict[str, Any]) -> dict[str, Any]:
    """Record a payment received for a station: its wallet is credited once (the same method
    and reference again answers with that top-up, `created` false; another amount is 409), and
    its unfunded royalties are then paid."""
    _station(body["station"], None)
    request = topups.TopUpRequest(
        body["station"], body["amount_minor"], body["method"], body["reference"],
        body.get("received_on"), body.get("note"), body.get("invoice"),
    )  # fmt: skip
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        recorded = topups.record_and_fund(
            db.session, worker.app_queue(app), request, current_principal().actor, "api",
            utc_now().date(),
        )  # fmt: skip
    except TopUpConflict as error:
        raise Conflict(str(error)) from None
    except TopUpInvalid as error:
        raise BadRequest(str(error)) from None
    found = topups.topup_records(db.session, [(recorded.topup, body["station"])])[0]
    return {**found, "created": recorded.created}


@blueprint.get("/topups")
@policy(STAFF, scope="stations:read")
@blueprint.input(ListQuery, location="query", arg_name="args")
@blueprint.output(TopUpList)
@blueprint.doc(responses=[404])
def topup_list(args: dict[str, Any]) -> dict[str, Any]:
    """Top-ups of the caller's stations (admins and auditors: every station), newest first."""
    scope = current_principal().station_ids
    station = _station(args["station"], scope) if args.get("station") else None
    before = _before("topups", args.get("cursor"))
    rows = topups.topups(db.session, scope, station.id if station else None, args["limit"] + 1,
                         before)  # fmt: skip
    page, cursor = pagination.split_page(rows, args["limit"], "topups", lambda r: [r[0].id])
    return {"topups": topups.topup_records(db.session, page), "next_cursor": cursor}


@blueprint.post("/invoices")
@policy([ADMIN], scope="admin")
@idempotent
@blueprint.input(InvoiceIn, arg_name="body")
@blueprint.output(InvoiceOut, status_code=201)
@blueprint.doc(responses=[400, 404, 409])
def invoice_add(body: dict[str, Any]) -> dict[str, Any]:
    """Issue a postpaid station's invoice of a month that is over (the same again answers
    with that invoice, `created` false); 409 for a prepaid station or a month not over."""
    _station(body["station"], None)
    try:
        issued = invoices.issue_invoice(
            db.session, body["station"], body["month"], current_principal().actor, "api",
            current_app.config["ZAMIO"].funding_invoice_due_days, now_ms(),
        )  # fmt: skip
    except InvoiceError as error:
        db.session.rollback()
        raise Conflict(str(error)) from None
    record = invoices.invoice_record(issued.invoice, body["station"])
    db.session.commit()
    return {**record, "created": issued.created}


@blueprint.get("/invoices")
@policy(STAFF, scope="stations:read")
@blueprint.input(InvoicesQuery, location="query", arg_name="args")
@blueprint.output(InvoiceList)
@blueprint.doc(responses=[404])
def invoice_list(args: dict[str, Any]) -> dict[str, Any]:
    """Invoices of the caller's stations (admins and auditors: every station), newest first."""
    scope = current_principal().station_ids
    station = _station(args["station"], scope) if args.get("station") else None
    before = _before("invoices", args.get("cursor"))
    rows = invoices.invoices(db.session, scope, station.id if station else None,
                             args.get("status"), args["limit"] + 1, before)  # fmt: skip
    page, cursor = pagination.split_page(rows, args["limit"], "invoices", lambda r: [r[0].id])
    return {
        "invoices": [invoices.invoice_record(i, code) for i, code in page],
        "next_cursor": cursor,
    }


@blueprint.get("/invoices/<number>")
@policy(STAFF, scope="stations:read", owner="invoice")
@blueprint.output(InvoiceDetail)
@blueprint.doc(responses=[404])
def invoice_detail(number: str) -> dict[str, Any]:
    """One invoice: its lines (per track), balances and the top-ups that paid it."""
    invoice, _ = _invoice(number)
    return queries.invoice_detail(db.session, invoice)


@blueprint.get("/invoices/<number>/lines.csv")
@policy(STAFF, scope="stations:read", owner="invoice")
@blueprint.doc(
    responses={
        200: {
            "description": "The invoice's lines as CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        404: "Not Found",
    }
)
def invoice_csv(number: str) -> Response:
    """The invoice's lines as CSV (a header row, then one line per track)."""
    invoice, code = _invoice(number)
    lines: Iterator[str] = invoices.invoice_csv(invoice, code)
    return Response(
        "".join(lines),  # one line per track: small, so not streamed
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.csv"'},
    )


def _invoice(number: str) -> tuple[Invoice, str]:
    """The invoice with this number in the caller's scope and its station's code, or 404."""
    invoice = invoices.scoped_invoice(db.session, number, current_principal().station_ids)
    if invoice is None:
        raise NotFound(f"no invoice {number[:100]}")
    return invoice, db.session.get_one(Station, invoice.station_id).code


def _station(code: str, scope: frozenset[int] | None) -> Station:
    """The station with this code within the scope (None: any), or 404."""
    station = stations.find_station(db.session, code) if stations.CODE.fullmatch(code) else None
    if station is None or (scope is not None and station.id not in scope):
        raise NotFound(f"no station {code[:80]}")
    return station


def _before(kind: str, cursor: str | None) -> int | None:
    """The id a list's cursor resumes before, or None for its first page (400 if bad)."""
    if not cursor:
        return None
    (before,) = pagination.decode(kind, cursor, 1)
    if not isinstance(before, int):
        raise BadRequest("cursor: not a cursor of this list; pass next_cursor as given")
    return before
