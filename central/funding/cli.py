"""`zamio funding`: record a station's top-up, issue a postpaid station's monthly invoice, list
top-ups and invoices, show one invoice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from central import schema, worker
from central.auth import audit
from central.auth.cli import cli_login
from central.extensions import db, utc_now
from central.funding import invoices, queries, rules, topups
from central.funding.errors import FundingError, InvoiceError, TopUpInvalid
from central.ledger.money import format_minor
from central.stations.models import Station
from central.stations.store import find_station
from central.times import now_ms

funding_cli = AppGroup("funding", help="Station funding: top-ups and monthly invoices.")
LIST_LIMIT = 500


@contextmanager
def _errors() -> Iterator[None]:
    """Check the schema; a funding error becomes a one-line CLI error, after rolling back."""
    schema.require_current_for_command(db.engine)
    try:
        yield
    except FundingError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None


@funding_cli.command("topup")
@click.argument("station")
@click.argument("amount_minor", type=click.IntRange(min=1))
@click.option("--method", required=True, type=click.Choice(rules.METHODS), help="How it came.")
@click.option("--reference", required=True, help="The bank, MoMo or receipt reference.")
@click.option("--received", type=click.DateTime(["%Y-%m-%d"]), help="When (default: today).")
@click.option("--invoice", "invoice_number", help="The number of the invoice it pays.")
@click.option("--note", help="A note kept with it.")
def topup_command(
    station: str, amount_minor: int, method: str, reference: str, received: datetime | None,
    invoice_number: str | None, note: str | None,
) -> None:  # fmt: skip
    """Record AMOUNT_MINOR (1250 is GHS 12.50) received for STATION; the same method and
    reference again is the same top-up. Its unfunded royalties are then paid."""
    with _errors():
        audit.recorded_by_command()
        request = topups.TopUpRequest(
            station, amount_minor, method, reference, received.date() if received else None,
            note, invoice_number,
        )  # fmt: skip
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        recorded = topups.record_and_fund(
            db.session, worker.app_queue(app), request, cli_login(), "cli", utc_now().date()
        )
    row = recorded.topup
    state = "recorded" if recorded.created else "recorded before (no change)"
    click.echo(
        f"top-up {row.id} {state}: {format_minor(row.amount_minor, row.currency)} to {station}"
        f" by {row.method} {row.reference}, transfer {row.transfer_id}"
    )


@funding_cli.command("invoice")
@click.argument("station")
@click.option("--month", required=True, help="YYYY-MM, in the station's time zone.")
def invoice_command(station: str, month: str) -> None:
    """Issue STATION's invoice of MONTH (a postpaid station, a month that is over); the same
    again shows that invoice. Prints its number on the last line."""
    with _errors():
        audit.recorded_by_command()
        issued = invoices.issue_invoice(
            db.session, station, month, cli_login(), "cli",
            current_app.config["ZAMIO"].funding_invoice_due_days, now_ms(),
        )  # fmt: skip
        db.session.commit()
    invoice = issued.invoice
    state = "issued" if issued.created else "issued before (no change)"
    click.echo(
        f"invoice {state}: {format_minor(invoice.amount_due_minor, invoice.currency)} due by"
        f" {invoice.due_on.isoformat()}, {invoice.status}"
    )
    click.echo(invoice.number)


@funding_cli.command("topups")
@click.option("--station", help="One station's (default: every station's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def topups_command(station: str | None, as_json: bool) -> None:
    """Top-ups, newest first (the latest 500)."""
    with _errors():
        found = _station(station)
        rows = topups.topup_records(
            db.session, topups.topups(db.session, None, found.id if found else None, LIST_LIMIT)
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r['id']:>6}  {r['received_on']}  {r['station']:<20} {r['method']:<5}"
            f" {r['reference']:<24} {format_minor(r['amount_minor'], r['currency']):>16}"
            f"  {r['invoice'] or ''}"
        )


@funding_cli.command("invoices")
@click.option("--station", help="One station's (default: every station's).")
@click.option("--status", type=click.Choice(rules.INVOICE_STATES), help="Open or paid only.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def invoices_command(station: str | None, status: str | None, as_json: bool) -> None:
    """Invoices, newest first (the latest 500)."""
    with _errors():
        found = _station(station)
        rows = [
            invoices.invoice_record(i, code)
            for i, code in invoices.invoices(
                db.session, None, found.id if found else None, status, LIST_LIMIT
            )
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r['number']:<40} {r['status']:<5} due {r['due_on']}"
            f" {format_minor(r['amount_due_minor'], r['currency']):>16}"
            f"  paid {format_minor(r['paid_minor'], r['currency'])}"
        )


@funding_cli.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(number: str, as_json: bool) -> None:
    """One invoice: balances, lines, the top-ups that paid it."""
    with _errors():
        record = _invoice_record(number)
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    currency = record["currency"]
    click.echo(f"{record['number']}  {record['station']}  {record['month']} ({record['timezone']})")
    for label, key in (("opening", "opening_minor"), ("charged", "charged_minor"),
                       ("payments", "payments_minor"), ("closing", "closing_minor"),
                       ("due", "amount_due_minor"), ("paid", "paid_minor")):  # fmt: skip
        click.echo(f"  {label:<9} {format_minor(record[key], currency):>16}")
    click.echo(f"  status    {record['status']}, due by {record['due_on']}")
    for line in record["lines"]:
        what = line["track"] or line["kind"]
        click.echo(f"  {line['line']:>4}  {what:<30} {line['plays']:>5} plays"
                   f"  {format_minor(line['amount_minor'], currency):>16}")  # fmt: skip


def _invoice_record(number: str) -> dict[str, Any]:
    """The invoice's record with its lines and payments; InvoiceError if there is none."""
    invoice = invoices.find_invoice(db.session, number)
    if invoice is None:
        raise InvoiceError(f"no invoice {number[:100]} (see `zamio funding invoices`)")
    return queries.invoice_detail(db.session, invoice)


def _station(code: str | None) -> Station | None:
    """The station of a --station option (None without one); FundingError if unknown."""
    if code is None:
        return None
    station = find_station(db.session, code)
    if station is None:
        raise TopUpInvalid(f"no station {code[:80]} (see `zamio station list`)")
    return station
