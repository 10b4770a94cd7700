"""A party's statement as CSV: a header row, then one row per line of earnings.statement_lines,
amounts as integer minor units and as a plain decimal of the currency (for spreadsheets: no
currency sign, no thousands separator). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from central.csvtext import rows_as_csv
from central.ledger.money import CURRENCY_EXPONENTS

COLUMNS = (
    "seq", "leg", "created_at", "transfer_id", "key", "code", "state", "side",
    "amount_minor", "amount", "balance_minor", "balance", "currency", "play_id",
)  # fmt: skip


def decimal_text(amount_minor: int, currency: str) -> str:
    """'1234.50' for 123450 minor units of GHS; '-0.05' for -5; '700' for 700 XOF."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    sign = "-" if amount_minor < 0 else ""
    units, minor = divmod(abs(amount_minor), 10**exponent)
    return f"{sign}{units}.{minor:0{exponent}d}" if exponent else f"{sign}{units}"


def csv_row(line: dict[str, Any], currency: str) -> list[Any]:
    """One statement line (earnings._line) as the values of COLUMNS."""
    return [
        line["seq"], line["leg"], line["created_at"] or "", line["transfer_id"], line["key"],
        line["code"], line["state"], line["side"], line["amount_minor"],
        decimal_text(line["amount_minor"], currency), line["balance_minor"],
        decimal_text(line["balance_minor"], currency), currency,
        "" if line["play_id"] is None else line["play_id"],
    ]  # fmt: skip


def statement_csv(lines: Iterable[dict[str, Any]], currency: str) -> Iterator[str]:
    """The CSV text of a statement, the header first, in chunks for a streamed download."""
    return rows_as_csv(COLUMNS, (csv_row(line, currency) for line in lines))
