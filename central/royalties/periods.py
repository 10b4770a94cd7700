"""A period of the journal, read fast: instants as seqs (created_at never decreases along the
journal, ledger/posting.py), an account's posted balance at points, and sums per track or station
over whole UTC months and days from the rollup (rollup.py) plus at most two partial days of
entries. Used by earnings.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, text
from sqlalchemy.orm import Session

from central.errors import QueryError
from central.ledger.models import Account, Entry, Transfer
from central.ledger.transfer import MONEY_STATES
from central.plays.queries import DAY_MS, TimeRange
from central.royalties import rollup
from central.times import ms_of


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
    signed = signed_sql(account)
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


def created_ms(session: Session, seq: int) -> int:
    """When the transfer at `seq` was created, in UTC ms; QueryError for a cursor to none."""
    created_at = session.scalar(select(Transfer.created_at).where(Transfer.seq == seq))
    if created_at is None:
        raise QueryError("cursor: not a cursor this API gave out (pass next_cursor unchanged)")
    return ms_of(created_at)


def rolled_sums(
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


def raw_sums(
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


def signed_sql(account: Account) -> Any:
    """SQL of an entry's amount on the account's normal side."""
    return case((Entry.side == account.normal_side, Entry.amount_minor), else_=-Entry.amount_minor)


def _instant(at_ms: int) -> datetime:
    """A UTC datetime of `at_ms`."""
    return datetime.fromtimestamp(at_ms / 1000, UTC)


def _ms(moment: datetime) -> int:
    """UTC ms of an aware datetime."""
    return int(moment.timestamp() * 1000)
