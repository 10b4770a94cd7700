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

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, text
from sqlalchemy.orm import Session

from central.catalog.models import Track
from central.errors import QueryError
from central.ledger.models import Account, Entry, Transfer
from central.ledger.money import DEFAULT_CURRENCY
from central.ledger.queries import AccountBalance, account_balance
from central.ledger.transfer import CREDIT, MONEY_STATES
from central.plays.queries import DAY_MS, ROW_ID_MAX, TimeRange, check_limit, find_play
from central.royalties import rollup
from central.royalties.queries import explain_play
from central.royalties.rights import party_kind
from central.stations.models import Station
from central.times import iso_datetime, ms_of

EARNINGS_RANGE_MS_MAX = 366 * DAY_MS  # a (leap) year per statement or breakdown
STATEMENT_LIMIT_DEFAULT = 100
STATEMENT_LIMIT_MAX = 1000
BREAKDOWN_BY = rollup.DIMENSIONS
_CURSOR = re.compile(r"([0-9]{1,15}):([0-9]{1,5})")
CURSOR_CHARS_MAX = 32


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
    points = [Point(span.since_ms), Point(span.until_ms)]
    if position is not None:
        points.append(Point(_created_ms(session, position[0]), position))
    found, seqs = balances_at(session, account, points)
    opening, closing = found[0], found[1]
    lo, hi = seqs[span.since_ms], seqs[span.until_ms]
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
    rows = session.execute(query.order_by(Transfer.seq, Entry.leg).limit(limit + 1)).all()
    running = opening if position is None else found[2]
    lines = []
    for row in rows[:limit]:
        if row.state in MONEY_STATES:
            running += _signed(account, row.side, row.amount_minor)
        lines.append(_line(row, running))
    more = len(rows) > limit
    next_cursor = encode_cursor(rows[limit - 1].seq, rows[limit - 1].leg) if more else None
    return StatementPage(account_balance(account), span, opening, closing, lines, next_cursor)


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
    parts = period_parts(span, rollup.is_rolled_up(account.code))
    edges = {ms for kind, lo, hi in parts if kind == "entries" for ms in (lo, hi)}
    seqs = seqs_at(session, sorted(edges)) if edges else {}
    found = [p for p in parts if p[0] != "entries"]
    ranges = [(seqs[lo], seqs[hi]) for kind, lo, hi in parts if kind == "entries"]
    sums: dict[int, list[int]] = {}
    rolled = _rolled_sums(session, account, by, found) if found else []
    for key_id, amount_minor, entries in rolled + _raw_sums(session, account, by, ranges):
        held = sums.setdefault(key_id, [0, 0])
        held[0] += amount_minor
        held[1] += entries
    other = sums.pop(rollup.NO_PLAY, [0, 0])[0]
    rows = _named(session, by, sums)
    total = other + sum(r["amount_minor"] for r in rows)
    return Breakdown(account_balance(account), span, by, rows, other, total)


def play_royalty(
    session: Session,
    play_id: int,
    parties: frozenset[str] | None = None,
    station_ids: frozenset[int] | None = None,
) -> dict[str, Any] | None:
    """The play's royalty explanation (explain_play), or None when the play is not in scope;
    AccrualError when it has no accrual yet."""
    if find_play(session, play_id, parties, station_ids) is None:
        return None
    return explain_play(session, play_id)


def period_parts(span: TimeRange, rolled_up: bool) -> list[tuple[str, int, int]]:
    """The span cut into (kind, lo, hi) parts: whole UTC months ("month") in the middle, whole
    days ("day") around them, and the rest at the ends ("entries"); entries only for an account
    not rolled up. Pure."""
    if not rolled_up:
        return [("entries", span.since_ms, span.until_ms)]
    first_day, last_day = -(-span.since_ms // DAY_MS) * DAY_MS, span.until_ms // DAY_MS * DAY_MS
    if first_day >= last_day:
        return [("entries", span.since_ms, span.until_ms)]
    first_month, last_month = month_start_ms(first_day), month_start_ms(last_day)
    if first_month < first_day:
        first_month = next_month_ms(first_month)
    middle = [(rollup.DAY, first_day, last_day)]
    if first_month < last_month:
        middle = [(rollup.DAY, first_day, first_month), (rollup.MONTH, first_month, last_month),
                  (rollup.DAY, last_month, last_day)]  # fmt: skip
    parts = [("entries", span.since_ms, first_day), *middle, ("entries", last_day, span.until_ms)]
    return [p for p in parts if p[1] < p[2]]


def month_start_ms(at_ms: int) -> int:
    """The first instant (UTC ms) of the UTC month of `at_ms`."""
    moment = datetime.fromtimestamp(at_ms / 1000, UTC)
    return _ms(datetime(moment.year, moment.month, 1, tzinfo=UTC))


def next_month_ms(month_ms: int) -> int:
    """The first instant of the month after the one starting at `month_ms`."""
    moment = datetime.fromtimestamp(month_ms / 1000, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return _ms(datetime(year, month, 1, tzinfo=UTC))


@dataclass(frozen=True)
class Point:
    """A point of the journal: before the first transfer created at `at_ms`, or (`line` given)
    just after the line (seq, leg) of a transfer created at `at_ms`."""

    at_ms: int
    line: tuple[int, int] | None = None


def seqs_at(session: Session, instants_ms: Sequence[int]) -> dict[int, int]:
    """{instant: the seq of the first transfer created at or after it (past the head if
    none)}, in one query."""
    head = select(func.coalesce(func.max(Transfer.seq), 0)).scalar_subquery()
    firsts = [
        select(Transfer.seq)
        .where(Transfer.created_at >= _instant(ms))
        .order_by(Transfer.created_at, Transfer.seq)
        .limit(1)
        .scalar_subquery()
        for ms in instants_ms
    ]
    row = session.execute(select(head, *firsts)).one()
    return {
        ms: int(row[0]) + 1 if seq is None else int(seq) for ms, seq in zip(instants_ms, row[1:])
    }


def balances_at(
    session: Session, account: Account, points: Sequence[Point]
) -> tuple[list[int], dict[int, int]]:
    """The account's posted balance at each point, and the seq at each instant asked: whole
    months and days from the rollup, the rest of the point's day from entries (three queries)."""
    rolled = rollup.is_rolled_up(account.code)
    days = [p.at_ms // DAY_MS * DAY_MS for p in points] if rolled else []
    seqs = seqs_at(session, sorted({p.at_ms for p in points} | set(days)))
    before = _rolled_before(session, account, days) if rolled else [0] * len(points)
    ranges = [
        (seqs[days[n]] if rolled else 1, p.line or (seqs[p.at_ms], None))
        for n, p in enumerate(points)
    ]
    return [b + r for b, r in zip(before, _raw_totals(session, account, ranges))], seqs


def encode_cursor(seq: int, leg: int) -> str:
    """The opaque cursor of the statement page after the line (seq, leg)."""
    return base64.urlsafe_b64encode(f"{seq}:{leg}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(seq, leg) of a cursor made by encode_cursor, or QueryError."""
    refused = QueryError("cursor: not a cursor this API gave out (pass next_cursor unchanged)")
    if not 1 <= len(cursor) <= CURSOR_CHARS_MAX or not cursor.isascii():
        raise refused
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        found = _CURSOR.fullmatch(
            base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
        )
    except (binascii.Error, ValueError):
        raise refused from None
    if found is None or int(found.group(1)) < 1:
        raise refused
    return int(found.group(1)), int(found.group(2))


def _rolled_before(session: Session, account: Account, days_ms: list[int]) -> list[int]:
    """The rollup's total for the account before each day: its months before the day's month,
    and its days from that month's first to the day."""
    row = rollup.EarningsPeriod
    sums = []
    for day_ms in days_ms:
        month, day = _period(rollup.MONTH, day_ms), _period(rollup.DAY, day_ms)
        first = _period(rollup.DAY, month_start_ms(day_ms))
        earlier = or_(
            and_(row.grain == rollup.MONTH, row.period < month),
            and_(row.grain == rollup.DAY, row.period >= first, row.period < day),
        )
        sums.append(func.coalesce(func.sum(case((earlier, row.amount_minor), else_=0)), 0))
    first_day = _period(rollup.DAY, month_start_ms(min(days_ms)))
    found = session.execute(
        select(*sums).where(
            row.account_id == account.id, row.dimension == rollup.TOTAL,
            or_(row.grain == rollup.MONTH, row.period >= first_day),
        )
    ).one()  # fmt: skip
    return [int(x) for x in found]


def _raw_totals(
    session: Session, account: Account, ranges: list[tuple[int, tuple[int, int | None]]]
) -> list[int]:
    """The account's posted movement over each range of entries: from seq `lo` to before seq
    `hi` (leg None) or through the line (hi, leg); one query."""
    conditions = [_in_range(lo, hi) for lo, hi in ranges]
    live = [c for c, (lo, (hi, leg)) in zip(conditions, ranges) if lo < hi or leg is not None]
    if not live:
        return [0] * len(ranges)
    signed = _signed_sql(account)
    found = session.execute(
        select(*[func.coalesce(func.sum(case((c, signed), else_=0)), 0) for c in conditions])
        .select_from(Entry)
        .join(Transfer, Transfer.seq == Entry.transfer_seq)
        .where(Entry.account_id == account.id, or_(*live), Transfer.state.in_(MONEY_STATES))
    ).one()
    return [int(x) for x in found]


def _in_range(lo: int, hi: tuple[int, int | None]) -> Any:
    """SQL: an entry from seq `lo` to before `hi` (leg None), or through the line `hi`."""
    seq, leg = hi
    if leg is None:
        return and_(Entry.transfer_seq >= lo, Entry.transfer_seq < seq)
    return and_(
        Entry.transfer_seq >= lo,
        or_(Entry.transfer_seq < seq, and_(Entry.transfer_seq == seq, Entry.leg <= leg)),
    )


def _created_ms(session: Session, seq: int) -> int:
    """When the transfer at `seq` was created, in UTC ms; QueryError for a cursor to none."""
    created_at = session.scalar(select(Transfer.created_at).where(Transfer.seq == seq))
    if created_at is None:
        raise QueryError("cursor: not a cursor this API gave out (pass next_cursor unchanged)")
    return ms_of(created_at)


def _rolled_sums(
    session: Session, account: Account, by: str, parts: list[tuple[str, int, int]]
) -> list[tuple[int, int, int]]:
    """(key_id, amount_minor, entries) of the rollup's whole days and months of `parts`."""
    row = rollup.EarningsPeriod
    within = or_(*[
        and_(row.grain == grain, row.period >= _period(grain, lo), row.period < _period(grain, hi))
        for grain, lo, hi in parts
    ])  # fmt: skip
    rows = session.execute(
        select(row.key_id, func.sum(row.amount_minor), func.sum(row.entries))
        .where(row.account_id == account.id, row.dimension == by, within)
        .group_by(row.key_id)
    ).all()
    return [(int(k), int(a), int(n)) for k, a, n in rows]


def _period(grain: str, at_ms: int) -> str:
    """The rollup's period text of an instant."""
    return rollup.period_of(grain, _instant(at_ms))


def _raw_sums(
    session: Session, account: Account, by: str, ranges: list[tuple[int, int]]
) -> list[tuple[int, int, int]]:
    """(key_id, amount_minor, entries) of the account's entries of the seq ranges [lo, hi)."""
    ranges = [(lo, hi) for lo, hi in ranges if lo < hi]
    if not ranges:
        return []
    name = session.get_bind().dialect.name
    column = "track_id" if by == rollup.TRACK else "station_id"
    money = ", ".join(f"'{state}'" for state in MONEY_STATES)
    within = " OR ".join(
        f"(e.transfer_seq >= :lo{n} AND e.transfer_seq < :hi{n})" for n in range(len(ranges))
    )
    bounds = {f"{side}{n}": seq for n, r in enumerate(ranges) for side, seq in zip(("lo", "hi"), r)}
    rows = session.execute(
        text(
            f"SELECT COALESCE(p.{column}, {rollup.NO_PLAY}),"
            " SUM(CASE WHEN e.side = :normal THEN e.amount_minor ELSE -e.amount_minor END),"
            " COUNT(*) FROM ledger_entry e JOIN ledger_transfer t ON t.seq = e.transfer_seq"
            f" LEFT JOIN play p ON p.id = {rollup.play_id_sql(name, 't.idempotency_key')}"
            f" WHERE e.account_id = :account AND ({within}) AND t.state IN ({money}) GROUP BY 1"
        ),
        {"normal": account.normal_side, "account": account.id, **bounds},
    ).all()
    return [(int(k), int(a), int(n)) for k, a, n in rows]


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


def _signed_sql(account: Account) -> Any:
    """SQL of an entry's amount on the account's normal side."""
    return case((Entry.side == account.normal_side, Entry.amount_minor), else_=-Entry.amount_minor)


def _empty(code: str) -> AccountBalance:
    """The balance of a party with no account yet: nothing earned."""
    return AccountBalance(code, party_kind(code), DEFAULT_CURRENCY, CREDIT, 0, 0, 0, 0, 0, 0, 0)


def _instant(at_ms: int) -> datetime:
    """A UTC datetime of `at_ms`."""
    return datetime.fromtimestamp(at_ms / 1000, UTC)


def _ms(moment: datetime) -> int:
    """UTC ms of an aware datetime."""
    return int(moment.timestamp() * 1000)
