"""What station staff are told about their station's funding: a top-up recorded, an invoice
issued. Sent through central.notifications (in-app, email, SMS, webhooks by each user's
preferences), in the caller's transaction, deduplicated by the top-up's or invoice's id."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from central.funding.models import Invoice, TopUp
from central.ledger.money import format_minor
from central.notifications import notify
from central.notifications.recipients import station_users
from central.stations.models import Station

TOPUP_EVENT = "funding.topup"
INVOICE_EVENT = "funding.invoice"


def topup_recorded(
    session: Session, station: Station, topup: TopUp, invoice: Invoice | None
) -> None:
    """Tell the station's staff a payment was credited to its wallet."""
    amount = format_minor(topup.amount_minor, topup.currency)
    paying = f" against invoice {invoice.number}" if invoice is not None else ""
    body = (
        f"{amount} received by {topup.method} (reference {topup.reference}) on"
        f" {topup.received_on.isoformat()} was credited to the wallet of {station.name}{paying}."
    )
    data = {
        "station": station.code, "topup_id": topup.id, "amount_minor": topup.amount_minor,
        "currency": topup.currency, "method": topup.method, "reference": topup.reference,
        "invoice": invoice.number if invoice is not None else None,
    }  # fmt: skip
    _tell(
        session, TOPUP_EVENT, station, f"Payment received: {amount}", body, data=data,
        dedupe_key=f"topup:{topup.id}", link=f"/stations/{station.code}/funding",
    )  # fmt: skip


def invoice_issued(session: Session, station: Station, invoice: Invoice) -> None:
    """Tell the station's staff an invoice was issued, what it says is due and by when."""
    due = format_minor(invoice.amount_due_minor, invoice.currency)
    body = (
        f"Invoice {invoice.number} for {invoice.month}: {due} due by"
        f" {invoice.due_on.isoformat()}; the wallet's balance at the month's end was"
        f" {format_minor(invoice.closing_minor, invoice.currency)}."
    )
    data = {
        "station": station.code, "invoice": invoice.number, "month": invoice.month,
        "amount_due_minor": invoice.amount_due_minor, "currency": invoice.currency,
        "due_on": invoice.due_on.isoformat(), "status": invoice.status,
    }  # fmt: skip
    _tell(
        session, INVOICE_EVENT, station, f"Invoice {invoice.number}: {due}", body, data=data,
        dedupe_key=invoice.number, link=f"/stations/{station.code}/invoices/{invoice.number}",
    )  # fmt: skip


def _tell(
    session: Session, event: str, station: Station, subject: str, body: str, *,
    data: dict[str, Any], dedupe_key: str, link: str,
) -> None:  # fmt: skip
    """notify() the station's active staff, in the caller's transaction."""
    users = station_users(session, station.id)
    notify(session, event, users, subject, body, data=data, dedupe_key=dedupe_key, link=link)
