"""What parties earned: balances of their accounts, a statement for a period page by page, and
what the ledger credited them per track or per station; a play's royalty explanation, scoped.

Scope as in plays/queries.py: `parties` (ledger party codes; None: every party) and
`station_ids`. Accounts and plays outside it are not found. All amounts are integer minor units.

A period [since, until) is a range of the journal: the transfers created in it. created_at never
decreases along the journal (ledger/posting.py), so the period is the seq range from the first
transfer created at or after `since` to the first at or after `until`. Sums over whole UTC
months and days come from the rollup (rollup.py); the rest of a period is summed from its
entries, which is at most the two partial days at its ends. Breakdowns attribute a transfer to a
play by its key (rollup.py), and everything else to `other_minor`, so the rows plus other add up
to the account's posted movement in the period."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from central import cursors
from central.catalog.models import Track
from central.errors import QueryError
from central.ledger.models import Account, Entry, Transfer
from central.ledger.money import DEFAULT_CURRENCY
from central.ledger.queries import AccountBalance, account_balance
from central.ledger.transfer import CREDIT, MONEY_STATES
from central.plays.queries import DAY_MS, ROW_ID_MAX, TimeRange, check_limit, find_play
from central.royalties import periods, rollup
from central.royalties.jobs import find_accrual
from central.royalties.queries import explain_play
from central.royalties.rights import party_kind
from central.stations.models import Station
from central.times import at_ms, iso_datetime, parse_iso_ms

EARNINGS_RANGE_MS_MAX = 366 * DAY_MS  # a (leap) year per statement or breakdown
STATEMENT_LIMIT_DEFAULT = 100
STATEMENT_LIMIT_MAX = 1000
MONTHS_MAX = 120  # the longest earnings-per-month series one query may ask for
BREAKDOWN_BY = rollup.DIMENSIONS
NOT_ACCRUED = "not_accrued"  # a play's royalty state before it has an accrual
_CURSOR = re.compile(r"([0-9]{1,15}):([0-9]{1,5})")
_MONTH = re.compile(r"(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}")


@dataclass(frozen=True)
class StatementPage:
    """An account's posted balance before and after a period, and one page of its lines."""

    account: AccountBalance
    span: TimeRange
    opening_minor: int
    closing_minor: int
    lines: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class MonthlySeries:
    """What the ledger posted to an account per UTC month (month to date for the last)."""

    account: AccountBalance
    months: list[dict[str, Any]]  # [{"month": "YYYY-MM", "amount_minor", "entries"}], in order


@dataclass(frozen=True)
class Breakdown:
    """What the ledger posted to an account in a period, per track or station, and the rest."""

    account: AccountBalance
    span: TimeRange
    by: str
    rows: list[dict[str, Any]]  # by amount, largest first
    other_minor: int  # posted from no play (claims, suspense releases, payouts)
    total_minor: int  # the account's posted movement in the period


def scope_codes(parties: frozenset[str] | None, party: str | None) -> list[str]:
    """The party codes a caller asks about: `party` if in scope (else none), or every party of
    the scope; QueryError when a see-all caller names none."""
    if party is not None:
        return [party] if parties is None or party in parties else []
    if parties is None:
        raise QueryError("party: name one (this caller sees every party)")
    return sorted(parties)


def balances(
    session: Session, parties: frozenset[str] | None, party: str | None = None
) -> list[AccountBalance]:
    """The balances of the parties in scope (zero for a party with no account yet), by code."""
    codes = scope_codes(parties, party)
    found = {a.code: a for a in session.scalars(select(Account).where(Account.code.in_(codes)))}
    return [account_balance(found[c]) if c in found else _empty(c) for c in codes]


def statement_page(
    session: Session, account_code: str, span: TimeRange, limit: int = STATEMENT_LIMIT_DEFAULT,
    cursor: str | None = None, parties: frozenset[str] | None = None,
) -> StatementPage | None:  # fmt: skip
    """One page of the account's lines in `span` (None: not in scope), each with its balance."""
    check_limit(limit, STATEMENT_LIMIT_MAX)
    position = None if cursor is None else decode_cursor(cursor)
    if not scope_codes(parties, account_code):
        return None
    account = session.scalar(select(Account).where(Account.code == account_code))
    if account is None:
        return StatementPage(_empty(account_code), span, 0, 0, [], None)
    points = [periods.Point(span.since_ms), periods.Point(span.until_ms)]
    if position is not None:
        points.append(periods.Point(periods.created_ms(session, position[0]), position))
    found, seqs = periods.balances_at(session, account, points)
    opening, closing = found[0], found[1]
    lo, hi = seqs[span.since_ms], seqs[span.until_ms]
    rows = session.execute(_lines(account, lo, hi, position).limit(limit + 1)).all()
    running = opening if position is None else found[2]
    lines = []
    for row in rows[:limit]:
        if row.state in MONEY_STATES:
            running += _signed(account, row.side, row.amount_minor)
        lines.append(_line(row, running))
    more = len(rows) > limit
    next_cursor = encode_cursor(rows[limit - 1].seq, rows[limit - 1].leg) if more else None
    return StatementPage(account_balance(account), span, opening, closing, lines, next_cursor)


def statement_lines(
    session: Session, account_code: str, span: TimeRange, parties: frozenset[str] | None = None,
    batch_lines: int = STATEMENT_LIMIT_MAX,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Every line of the account's statement for `span`, as statement_page's pages give them
    (none: not in scope). The balance before the first line is read once; later lines carry
    the running balance on, read `batch_lines` at a time after the last one."""
    first = statement_page(session, account_code, span, batch_lines, None, parties)
    if first is None:
        return
    yield from first.lines
    if first.next_cursor is None:
        return
    account = session.scalar(select(Account).where(Account.code == account_code))
    assert account is not None  # it had lines
    seqs = periods.seqs_at(session, [span.since_ms, span.until_ms])
    last = first.lines[-1]
    position, running = (last["seq"], last["leg"]), last["balance_minor"]
    while True:
        rows = session.execute(
            _lines(account, seqs[span.since_ms], seqs[span.until_ms], position).limit(batch_lines)
        ).all()
        for row in rows:
            if row.state in MONEY_STATES:
                running += _signed(account, row.side, row.amount_minor)
            yield _line(row, running)
        if len(rows) < batch_lines:
            return
        position = (rows[-1].seq, rows[-1].leg)


def _lines(account: Account, lo: int, hi: int, position: tuple[int, int] | None) -> Any:
    """The query of the account's lines of seqs [lo, hi) after the line `position`, in order."""
    start = max(position[0], lo) if position else lo
    query = (
        select(Transfer.seq, Entry.leg, Transfer.created_at, Transfer.id,
               Transfer.idempotency_key, Transfer.code, Transfer.state, Entry.side,
               Entry.amount_minor)
        .join(Entry, Entry.transfer_seq == Transfer.seq)
        .where(Entry.account_id == account.id, Entry.transfer_seq >= start,
               Entry.transfer_seq < hi)
    )  # fmt: skip
    if position is not None:
        query = query.where(
            or_(Entry.transfer_seq > position[0],
                and_(Entry.transfer_seq == position[0], Entry.leg > position[1]))
        )  # fmt: skip
    return query.order_by(Transfer.seq, Entry.leg)


def breakdown(
    session: Session, account_code: str, by: str, span: TimeRange,
    parties: frozenset[str] | None = None,
) -> Breakdown | None:  # fmt: skip
    """What the account was posted in `span` per track or station (None: not in scope)."""
    if by not in BREAKDOWN_BY:
        raise QueryError(f"by: one of {', '.join(BREAKDOWN_BY)}")
    if not scope_codes(parties, account_code):
        return None
    account = session.scalar(select(Account).where(Account.code == account_code))
    if account is None:
        return Breakdown(_empty(account_code), span, by, [], 0, 0)
    parts = periods.period_parts(span, rollup.is_rolled_up(account.code))
    edges = {ms for kind, lo, hi in parts if kind == "entries" for ms in (lo, hi)}
    seqs = periods.seqs_at(session, sorted(edges)) if edges else {}
    found = [p for p in parts if p[0] != "entries"]
    ranges = [(seqs[lo], seqs[hi]) for kind, lo, hi in parts if kind == "entries"]
    sums: dict[int, list[int]] = {}
    rolled = periods.rolled_sums(session, account, by, found) if found else []
    for key_id, amount_minor, entries in rolled + periods.raw_sums(session, account, by, ranges):
        held = sums.setdefault(key_id, [0, 0])
        held[0] += amount_minor
        held[1] += entries
    other = sums.pop(rollup.NO_PLAY, [0, 0])[0]
    rows = _named(session, by, sums)
    total = other + sum(r["amount_minor"] for r in rows)
    return Breakdown(account_balance(account), span, by, rows, other, total)


def last_months(now_ms: int, months: int) -> list[str]:
    """The `months` UTC months ending with the current one, as YYYY-MM, oldest first. Pure;
    QueryError outside 1..MONTHS_MAX."""
    if not 1 <= months <= MONTHS_MAX:
        raise QueryError(f"months: must be 1-{MONTHS_MAX}, got {months}")
    moment = at_ms(now_ms)
    index = moment.year * 12 + moment.month - 1  # months since year 0, so steps back are easy
    return [f"{n // 12:04d}-{n % 12 + 1:02d}" for n in range(index - months + 1, index + 1)]


def month_range(month: str) -> TimeRange:
    """[first instant, first instant of the next) of a UTC month given as YYYY-MM. Pure;
    QueryError for anything else."""
    if not _MONTH.fullmatch(month) or not 1 <= int(month[5:]) <= 12:
        raise QueryError(f"month: YYYY-MM, e.g. 2026-11, got {month[:20]!r}")
    first = periods.month_start_ms(parse_iso_ms(f"{month}-01T00:00:00Z"))
    return TimeRange(first, periods.next_month_ms(first))


def monthly(
    session: Session, account_code: str, months: list[str],
    parties: frozenset[str] | None = None,
) -> MonthlySeries | None:  # fmt: skip
    """What the account was posted in each month of `months` (YYYY-MM, in order), from the
    rollup's month totals (None: not in scope); a month with nothing posted is 0."""
    if not scope_codes(parties, account_code):
        return None
    if not rollup.is_rolled_up(account_code):
        raise QueryError(f"party: {account_code[:80]} is no party's earnings account")
    account = session.scalar(select(Account).where(Account.code == account_code))
    if account is None:
        return MonthlySeries(_empty(account_code), [_month(m, 0, 0) for m in months])
    row = rollup.EarningsPeriod
    found = {
        r.period: r
        for r in session.scalars(
            select(row).where(
                row.account_id == account.id, row.dimension == rollup.TOTAL,
                row.grain == rollup.MONTH, row.key_id == rollup.NO_PLAY,
                row.period.in_(months),
            )
        )
    }  # fmt: skip
    series = [
        _month(m, found[m].amount_minor, found[m].entries) if m in found else _month(m, 0, 0)
        for m in months
    ]
    return MonthlySeries(account_balance(account), series)


def _month(month: str, amount_minor: int, entries: int) -> dict[str, Any]:
    """One month of a series."""
    return {"month": month, "amount_minor": amount_minor, "entries": entries}


def play_royalty(
    session: Session,
    play_id: int,
    parties: frozenset[str] | None = None,
    station_ids: frozenset[int] | None = None,
) -> dict[str, Any] | None:
    """The play's royalty explanation (explain_play), or None when the play is not in scope; a
    play not accrued yet (open, or waiting for its job) is in state NOT_ACCRUED, with nothing."""
    if find_play(session, play_id, parties, station_ids) is None:
        return None
    if find_accrual(session, play_id) is None:
        return {
            "play_id": play_id, "state": NOT_ACCRUED, "amount_minor": 0, "currency": None,
            "batch_id": None, "hold_reason": None, "transfers": [],
            "explanation": {"reason": "no accrual yet: the play is open, or not accrued yet"},
        }  # fmt: skip
    return explain_play(session, play_id)


def encode_cursor(seq: int, leg: int) -> str:
    """The opaque cursor of the statement page after the line (seq, leg)."""
    return cursors.encode_pair(seq, leg)


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(seq, leg) of a cursor made by encode_cursor, or QueryError."""
    seq, leg = cursors.decode_pair(cursor, _CURSOR)
    if seq < 1:
        raise QueryError(cursors.REFUSED)
    return seq, leg


def _named(session: Session, by: str, sums: dict[int, list[int]]) -> list[dict[str, Any]]:
    """Breakdown rows with the track's or station's facts, largest amount first."""
    ids = sorted(k for k in sums if 1 <= k <= ROW_ID_MAX)
    if by == rollup.TRACK:
        found = session.execute(
            select(Track.id, Track.external_id, Track.title, Track.artist).where(Track.id.in_(ids))
        ).all()
        about = {
            r.id: {"track": r.external_id, "title": r.title, "artist": r.artist} for r in found
        }
    else:
        found = session.execute(
            select(Station.id, Station.code, Station.name).where(Station.id.in_(ids))
        ).all()
        about = {r.id: {"station": r.code, "name": r.name} for r in found}
    rows = [
        {**about.get(k, {}), "amount_minor": amount, "entries": entries}
        for k, (amount, entries) in sums.items()
    ]
    return sorted(rows, key=lambda r: (-r["amount_minor"], str(r.get(by, ""))))


def _line(row: Any, balance_minor: int) -> dict[str, Any]:
    """One statement line as JSON."""
    return {
        "seq": row.seq,
        "leg": row.leg,
        "created_at": iso_datetime(row.created_at),
        "transfer_id": str(row.id),
        "key": row.idempotency_key,
        "code": row.code,
        "state": row.state,
        "side": row.side,
        "amount_minor": row.amount_minor,
        "balance_minor": balance_minor,
        "play_id": rollup.play_id_of_key(row.idempotency_key),
    }


def _signed(account: Account, side: str, amount_minor: int) -> int:
    """An entry's amount on the account's normal side."""
    return amount_minor if side == account.normal_side else -amount_minor


def _empty(code: str) -> AccountBalance:
    """The balance of a party with no account yet: nothing earned."""
    return AccountBalance(code, party_kind(code), DEFAULT_CURRENCY, CREDIT, 0, 0, 0, 0, 0, 0, 0)
