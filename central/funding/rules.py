"""The rules of station funding, before any I/O: what a top-up's method and reference may be,
the ledger key and accounts a top-up posts to, invoice numbers, months and due dates, an
invoice's totals and status. Pure.

A station's regime is its wallet's floor (central/ledger/accounts.py): a floor of 0 or more is
prepaid (royalties wait, unfunded, until a top-up), a negative floor (a credit limit) or none
at all (a wallet royalties opened: the station is a payable) is postpaid, invoiced monthly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from central.royalties.accrual import check_timezone, month_range_ms

METHODS = ("bank", "momo", "cash")
TOPUP_CODE = "topup"  # the ledger transfer code of a top-up
REFERENCE_CHARS_MAX = 100
NOTE_CHARS_MAX = 500
INVOICE_NUMBER_CHARS_MAX = 96  # ZIO-YYYY-MM- and a station code of up to 64 characters
INVOICE_PREFIX = "ZIO"
OPEN, PAID = "open", "paid"
INVOICE_STATES = (OPEN, PAID)
TRACK_LINE, OTHER_LINE = "track", "other"
_REFERENCE = re.compile(rf"[\x21-\x7e]{{1,{REFERENCE_CHARS_MAX}}}")  # printable ASCII, no space
_NUMBER = re.compile(rf"{INVOICE_PREFIX}-[0-9]{{4}}-[0-9]{{2}}-[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}")


@dataclass(frozen=True)
class Totals:
    """An invoice's money: the balance before, what the lines charged, the payments credited,
    the balance after (opening - charged + payments) and what is due (charged, at least 0)."""

    opening_minor: int
    charged_minor: int
    payments_minor: int
    closing_minor: int
    amount_due_minor: int


def check_method(method: str) -> str:
    """The method, if it is one of METHODS; ValueError if not."""
    if method not in METHODS:
        raise ValueError(f"method {method!r}: one of {', '.join(METHODS)}")
    return method


def normalize_reference(reference: str) -> str:
    """The bank, MoMo or receipt reference as stored: trimmed, upper case (so 'ab12' and
    'AB12 ' are one payment); ValueError unless 1-100 printable ASCII characters, no spaces."""
    text = reference.strip().upper() if isinstance(reference, str) else ""
    if not _REFERENCE.fullmatch(text):
        raise ValueError(
            f"reference {str(reference)[:40]!r}: 1-{REFERENCE_CHARS_MAX} printable ASCII"
            " characters without spaces"
        )
    return text


def check_amount(amount_minor: int) -> int:
    """A top-up's amount: a positive whole number of minor units; ValueError if not."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor < 1:
        raise ValueError(f"amount_minor {amount_minor!r}: a whole number of minor units, >= 1")
    return amount_minor


def check_note(note: str | None) -> str | None:
    """A note, trimmed (None if empty); ValueError past NOTE_CHARS_MAX characters or for
    control characters."""
    text = (note or "").strip()
    if len(text) > NOTE_CHARS_MAX:
        raise ValueError(f"note: at most {NOTE_CHARS_MAX} characters")
    if not text.isprintable():
        raise ValueError("note: one line of printable characters")
    return text or None


def topup_key(method: str, reference: str) -> str:
    """The ledger idempotency key of the top-up with this method and (normalized) reference."""
    return f"{TOPUP_CODE}:{method}:{reference}"


def settlement_account(method: str) -> str:
    """The settlement account the money of `method` comes in by (debit-normal, no floor)."""
    return f"settlement:{method}"


def is_postpaid(balance_min_minor: int | None) -> bool:
    """Whether a wallet with this floor is invoiced (module docstring)."""
    return balance_min_minor is None or balance_min_minor < 0


def invoice_number(month: str, station_code: str) -> str:
    """The number of a station's invoice of a month, e.g. ZIO-2026-11-joy-fm."""
    return f"{INVOICE_PREFIX}-{month}-{station_code}"


def is_invoice_number(number: object) -> bool:
    """Whether `number` has an invoice number's shape (ZIO-2026-11-joy-fm)."""
    return isinstance(number, str) and _NUMBER.fullmatch(number) is not None


def month_span_ms(month: str, timezone: str) -> tuple[int, int]:
    """[first instant, first instant of the next month) of a local month, in UTC ms;
    ValueError for a bad month or zone."""
    return month_range_ms(month, timezone)


def previous_month(now_ms: int, timezone: str) -> str:
    """The local month (YYYY-MM) before the one `now_ms` falls in, in `timezone`."""
    local = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(check_timezone(timezone))
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return f"{year:04d}-{month:02d}"


def month_is_over(month: str, timezone: str, now_ms: int) -> bool:
    """Whether the local month has ended at `now_ms` (only then can it be invoiced)."""
    return now_ms >= month_span_ms(month, timezone)[1]


def due_on(month: str, due_days: int) -> date:
    """The day an invoice of `month` is due: its last day plus `due_days`."""
    first_next = date.fromisoformat(f"{month}-01") + timedelta(days=32)
    last = first_next.replace(day=1) - timedelta(days=1)
    return last + timedelta(days=due_days)


def totals(opening_minor: int, line_minors: list[int], payments_minor: int) -> Totals:
    """An invoice's Totals from its opening balance, its lines and the payments credited."""
    charged = sum(line_minors)
    closing = opening_minor - charged + payments_minor
    return Totals(opening_minor, charged, payments_minor, closing, max(charged, 0))


def status(paid_minor: int, amount_due_minor: int) -> str:
    """PAID once the payments naming an invoice cover what it says is due, else OPEN."""
    return PAID if paid_minor >= amount_due_minor else OPEN


def local_date(now_ms: int, timezone: str) -> date:
    """The date at `now_ms` in `timezone`."""
    zone: ZoneInfo = check_timezone(timezone)
    return datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(zone).date()
