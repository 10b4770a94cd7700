"""Reads of station funding that the API, the console and the CLI share: an invoice with its
lines and payments, a station's latest top-ups and invoices."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from central.funding import invoices, topups
from central.funding.models import Invoice
from central.stations.models import Station

PAYMENTS_MAX = 200  # top-ups shown with one invoice
SUMMARY_ROWS = 5  # of each kind on a station's wallet page


def invoice_detail(session: Session, invoice: Invoice) -> dict[str, Any]:
    """The invoice's record with its lines and the top-ups that paid it."""
    code = session.get_one(Station, invoice.station_id).code
    payments = topups.topups(session, None, invoice_id=invoice.id, limit=PAYMENTS_MAX)
    return {
        **invoices.invoice_record(invoice, code, lines=True),
        "payments": topups.topup_records(session, payments),
    }


def station_summary(session: Session, station_id: int, rows: int = SUMMARY_ROWS) -> dict[str, Any]:
    """The station's latest top-ups and invoices, as records."""
    found = invoices.invoices(session, None, station_id, limit=rows)
    return {
        "topups": topups.topup_records(session, topups.topups(session, None, station_id, rows)),
        "invoices": [invoices.invoice_record(i, code) for i, code in found],
    }
