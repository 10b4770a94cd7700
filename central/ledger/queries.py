"""Reading the ledger: an account's balance, and its statement over a time range."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from central.ledger.accounts import get_account
from central.ledger.balances import account_state
from central.ledger.errors import QueryRangeError
from central.ledger.models import Account, Entry, Transfer
from central.ledger.transfer import MONEY_STATES
from central.times import as_utc

STATEMENT_LINES_MAX = 10_000


@dataclass(frozen=True)
class AccountBalance:
    """An account's rule and balances now, in minor units of its currency."""

    code: str
    kind: str
    currency: str
    normal_side: str
    balance_min_minor: int | None
    balance_minor: int  # posted, on the normal side
    available_minor: int  # posted, less what pending transfers hold
    debits_posted_minor: int
    credits_posted_minor: int
    debits_pending_minor: int
    credits_pending_minor: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class StatementLine:
    """One entry of the account, and its posted balance after it."""

    seq: int
    created_at: datetime
    transfer_id: str
    idempotency_key: str
    code: str
    state: str
    side: str
    amount_minor: int
    balance_minor: int


@dataclass(frozen=True)
class Statement:
    """An account's entries in [since, until): posted balance before, each line, after."""

    account: AccountBalance
    since: datetime | None
    until: datetime | None
    opening_minor: int
    closing_minor: int
    lines: tuple[StatementLine, ...]
    truncated: bool  # more than lines_max lines: the first lines_max shown, closing still exact


def balance(session: Session, account_code: str) -> AccountBalance:
    """The balances of the account; UnknownAccount if there is none."""
    return account_balance(get_account(session, account_code))


def account_balance(account: Account) -> AccountBalance:
    """AccountBalance of a loaded account."""
    state = account_state(account)
    return AccountBalance(
        account.code, account.kind, account.currency, account.normal_side,
        account.balance_min_minor, state.balance_minor, state.available_minor, *state.totals,
    )  # fmt: skip


def statement(
    session: Session,
    account_code: str,
    since: datetime | None = None,
    until: datetime | None = None,
    lines_max: int = STATEMENT_LINES_MAX,
) -> Statement:
    """The account's statement over [since, until) (UTC; None: open-ended)."""
    since = None if since is None else as_utc(since)
    until = None if until is None else as_utc(until)
    if since and until and since > until:
        raise QueryRangeError(f"since {since.isoformat()} is after until {until.isoformat()}")
    account = get_account(session, account_code)
    signed = case(
        (Entry.side == account.normal_side, Entry.amount_minor), else_=-Entry.amount_minor
    )
    opening = _posted_sum(session, account.id, signed, None, since) if since else 0
    closing = _posted_sum(session, account.id, signed, since, until) + opening
    rows = session.execute(
        _window(
            select(Transfer.seq, Transfer.created_at, Transfer.id, Transfer.idempotency_key,
                   Transfer.code, Transfer.state, Entry.side, Entry.amount_minor)
            .join(Entry, Entry.transfer_seq == Transfer.seq)
            .where(Entry.account_id == account.id),
            since, until,
        ).order_by(Transfer.seq, Entry.leg).limit(lines_max + 1)
    ).all()  # fmt: skip
    lines, running = [], opening
    for row in rows[:lines_max]:
        if row.state in MONEY_STATES:
            running += row.amount_minor if row.side == account.normal_side else -row.amount_minor
        created_at = as_utc(row.created_at)
        lines.append(StatementLine(
            row.seq, created_at, str(row.id), row.idempotency_key, row.code, row.state, row.side,
            row.amount_minor, running,
        ))  # fmt: skip
    return Statement(
        account_balance(account), since, until, opening, closing, tuple(lines),
        len(rows) > lines_max,
    )  # fmt: skip


def _posted_sum(
    session: Session, account_id: int, signed: Any, since: datetime | None, until: datetime | None
) -> int:
    """The posted balance change of the account's entries in [since, until)."""
    query = (
        select(func.coalesce(func.sum(signed), 0))
        .select_from(Entry)
        .join(Transfer, Entry.transfer_seq == Transfer.seq)
        .where(Entry.account_id == account_id, Transfer.state.in_(MONEY_STATES))
    )
    return int(session.scalar(_window(query, since, until)) or 0)


def _window(query: Any, since: datetime | None, until: datetime | None) -> Any:
    """`query` limited to transfers created in [since, until)."""
    if since is not None:
        query = query.where(Transfer.created_at >= since)
    if until is not None:
        query = query.where(Transfer.created_at < until)
    return query
