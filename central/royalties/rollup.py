"""Earnings per party account, UTC day and month, and track or station: a rollup of the ledger's
entries, kept in the posting's own transaction and rebuildable from the journal
(`zamio royalty rollup`).

A row is what the ledger posted to one party account (any account whose code has no reserved
prefix, as rights shares name them) in one UTC day or month (`grain`, `period` YYYY-MM-DD or
YYYY-MM) of its transfers' created_at, from the transfers of one play's track (dimension
"track"), at one station ("station"), or in all (dimension "total", key 0: balances at a date
read one row per month or day), as a signed amount on the account's normal side. A transfer
belongs to a play when its idempotency key is the play's (`royalty:play:<id>`, its accrual) or
starts with it and ':' (its hold's reversal, hold, release): so a hold and its release move the
play's row, and the net is what the party holds from the play. Every other posted entry (claims,
suspense releases, payouts) counts under key 0, so a period's rows of one dimension add up to
the account's posted movement in it. Only money moves count (posted, posted_from_pending); a
pending hold moves no posted money.

Maintenance is an append hook of the ledger (ledger/posting.py): it runs once per new transfer,
inside the posting's savepoint, after the chain head is locked, so postings update rows one at a
time and a refused posting leaves no trace. `rebuild` recomputes every row in SQL.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    bindparam,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from central.extensions import db
from central.ledger import posting
from central.ledger.balances import AccountState
from central.ledger.models import Transfer
from central.ledger.transfer import MONEY_STATES
from central.plays.models import Play
from central.royalties.rights import RESERVED_PREFIXES
from central.times import as_utc

TRACK, STATION, TOTAL = "track", "station", "total"
DIMENSIONS = (TRACK, STATION)  # what a breakdown is by
MONTH, DAY = "month", "day"
GRAINS = {MONTH: "%Y-%m", DAY: "%Y-%m-%d"}  # period text, in UTC
NO_PLAY = 0  # key_id of entries that came from no play
PLAY_KEY_PREFIX = "royalty:play:"
PLAY_ID_DIGITS_MAX = 9  # ids are 32-bit integers
_PLAY = select(Play.track_id, Play.station_id).where(Play.id == bindparam("play_id"))


class EarningsPeriod(db.Model):
    """What a party account was posted in one UTC day or month from one track or station."""

    __tablename__ = "earnings_period"

    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)  # track|station|total
    grain: Mapped[str] = mapped_column(String(5), primary_key=True)  # month | day
    period: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM(-DD), UTC
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # posted, on the normal side
    entries: Mapped[int] = mapped_column(Integer)


def is_rolled_up(account_code: str) -> bool:
    """Whether the rollup keeps the account's periods (a party's earnings account)."""
    return not account_code.startswith(RESERVED_PREFIXES)


def play_id_of_key(idempotency_key: str) -> int | None:
    """The play a transfer key belongs to (module docstring), or None."""
    if not idempotency_key.startswith(PLAY_KEY_PREFIX):
        return None
    digits = idempotency_key[len(PLAY_KEY_PREFIX) :].split(":", 1)[0]
    if not digits.isdigit() or len(digits) > PLAY_ID_DIGITS_MAX:
        return None
    return int(digits)


def period_of(grain: str, moment: datetime) -> str:
    """YYYY-MM (month) or YYYY-MM-DD (day) of an instant, in UTC."""
    return as_utc(moment).strftime(GRAINS[grain])


def roll_up(session: Session, transfer: Transfer, states: Mapping[str, AccountState]) -> None:
    """Add a new transfer's party entries to their periods (the ledger's append hook)."""
    if transfer.state not in MONEY_STATES:
        return
    by_id = {s.id: s for s in states.values()}
    entries = [e for e in transfer.entries if is_rolled_up(by_id[e.account_id].code)]
    if not entries:
        return
    keys = {TRACK: NO_PLAY, STATION: NO_PLAY, TOTAL: NO_PLAY}
    play_id = play_id_of_key(transfer.idempotency_key)
    if play_id is not None:
        row = session.execute(_PLAY, {"play_id": play_id}).first()
        if row is not None:
            keys = {TRACK: row.track_id, STATION: row.station_id, TOTAL: NO_PLAY}
    periods = {grain: period_of(grain, transfer.created_at) for grain in GRAINS}
    values = []
    for e in entries:
        normal = by_id[e.account_id].normal_side
        signed = e.amount_minor if e.side == normal else -e.amount_minor
        values += [
            {"account_id": e.account_id, "dimension": d, "grain": grain, "period": period,
             "key_id": key, "amount_minor": signed, "entries": 1}
            for d, key in keys.items() for grain, period in periods.items()
        ]  # fmt: skip
    _add(session, values)


def _add(session: Session, values: list[dict]) -> None:
    """Add amounts and entry counts to their rows, made when new (one upsert, compiled once)."""
    merged: dict[tuple, dict] = {}
    for v in values:  # one account twice in a transfer: one row, or the upsert hits it twice
        key = (v["account_id"], v["dimension"], v["grain"], v["period"], v["key_id"])
        held = merged.setdefault(key, {**v, "amount_minor": 0, "entries": 0})
        held["amount_minor"] += v["amount_minor"]
        held["entries"] += v["entries"]
    session.execute(_upsert(session.get_bind().dialect.name), list(merged.values()))


@functools.cache
def _upsert(dialect_name: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE adding to a row's amount and entries (per dialect)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = EarningsPeriod.__table__
    insert = dialect.insert(table)
    return insert.on_conflict_do_update(
        index_elements=["account_id", "dimension", "grain", "period", "key_id"],
        set_={
            "amount_minor": table.c.amount_minor + insert.excluded.amount_minor,
            "entries": table.c.entries + insert.excluded.entries,
        },
    )


def play_id_sql(dialect_name: str, key_column: str) -> str:
    """SQL of the play id of a transfer key column (NULL for keys of no play)."""
    if dialect_name == "postgresql":
        return (
            f"CAST(substring({key_column} FROM"
            f" '^royalty:play:([0-9]{{1,{PLAY_ID_DIGITS_MAX}}})(?::|$)') AS INTEGER)"
        )
    return (
        f"CASE WHEN {key_column} GLOB 'royalty:play:[0-9]*'"
        f" THEN CAST(substr({key_column}, {len(PLAY_KEY_PREFIX) + 1}) AS INTEGER) END"
    )


def party_account_sql(code_column: str) -> str:
    """SQL that is true for the codes of rolled-up accounts (is_rolled_up)."""
    return " AND ".join(f"{code_column} NOT LIKE '{prefix}%'" for prefix in RESERVED_PREFIXES)


def day_sql(dialect_name: str, column: str) -> str:
    """SQL of YYYY-MM-DD (UTC) of a timestamp column."""
    if dialect_name == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"strftime('%Y-%m-%d', {column})"


def rebuild(session: Session) -> int:
    """Recompute every row from the ledger's entries (in the caller's transaction); row count.
    One pass over the entries, summed per (account, day, track, station), then per row."""
    name = session.get_bind().dialect.name
    session.execute(delete(EarningsPeriod))
    money = ", ".join(f"'{state}'" for state in MONEY_STATES)
    day = day_sql(name, "t.created_at")
    per_entry = (
        f"SELECT e.account_id, {day} AS day, COALESCE(p.track_id, {NO_PLAY}) AS track_id,"
        f" COALESCE(p.station_id, {NO_PLAY}) AS station_id,"
        " SUM(CASE WHEN e.side = a.normal_side THEN e.amount_minor"
        " ELSE -e.amount_minor END) AS amount, COUNT(*) AS n"
        " FROM ledger_entry e JOIN ledger_transfer t ON t.seq = e.transfer_seq"
        " JOIN ledger_account a ON a.id = e.account_id"
        f" LEFT JOIN play p ON p.id = {play_id_sql(name, 't.idempotency_key')}"
        f" WHERE t.state IN ({money}) AND {party_account_sql('a.code')}"
        f" GROUP BY e.account_id, {day}, COALESCE(p.track_id, {NO_PLAY}),"
        f" COALESCE(p.station_id, {NO_PLAY})"
    )
    session.execute(text(insert_sql(name, per_entry)))
    return int(session.scalar(select(func.count()).select_from(EarningsPeriod)) or 0)


def insert_sql(dialect_name: str, per_day_sql: str) -> str:
    """SQL that inserts every row from `per_day_sql`'s (account_id, day, track_id, station_id,
    amount, n), summed per account, day, track and station (a bulk loader may give its own)."""
    materialized = " MATERIALIZED" if dialect_name == "postgresql" else ""
    per_row = " UNION ALL ".join(
        f"SELECT account_id, '{dimension}', '{grain}', {period}, {column or NO_PLAY},"
        f" SUM(amount), SUM(n) FROM x GROUP BY account_id, {period}"
        + (f", {column}" if column else "")
        for dimension, column in ((TRACK, "track_id"), (STATION, "station_id"), (TOTAL, None))
        for grain, period in ((DAY, "day"), (MONTH, "substr(day, 1, 7)"))
    )
    return (
        f"WITH x AS{materialized} ({per_day_sql}) INSERT INTO earnings_period"
        f" (account_id, dimension, grain, period, key_id, amount_minor, entries) {per_row}"
    )


def rebuild_and_compare(session: Session) -> tuple[int, int, tuple | None]:
    """rebuild(), then (rows, keys whose row differs from before it, one such row as it was or
    is now); in the caller's transaction, compared in SQL against a temporary copy of the old
    rows, so a rollback leaves the rollup as it was."""
    keys = "account_id, dimension, grain, period, key_id"
    columns = f"{keys}, amount_minor, entries"
    before, now = "earnings_period_before", "earnings_period"
    session.execute(text(f"DROP TABLE IF EXISTS {before}"))
    session.execute(text(f"CREATE TEMPORARY TABLE {before} AS SELECT {columns} FROM {now}"))
    count = rebuild(session)
    differ = (
        f"SELECT * FROM (SELECT {columns} FROM {before} EXCEPT SELECT {columns} FROM {now}) AS a"
        f" UNION ALL"
        f" SELECT * FROM (SELECT {columns} FROM {now} EXCEPT SELECT {columns} FROM {before}) AS b"
    )
    distinct = f"SELECT DISTINCT {keys} FROM ({differ}) AS d"
    changed = session.scalar(text(f"SELECT count(*) FROM ({distinct}) AS k"))
    example = session.execute(text(f"SELECT * FROM ({differ}) AS d LIMIT 1")).first()
    session.execute(text(f"DROP TABLE {before}"))
    return count, int(changed or 0), None if example is None else tuple(example)


def stored_rows(session: Session) -> dict[tuple, tuple[int, int]]:
    """Every row as {(account_id, dimension, grain, period, key_id): (amount, entries)}."""
    return {
        (r.account_id, r.dimension, r.grain, r.period, r.key_id): (r.amount_minor, r.entries)
        for r in session.scalars(select(EarningsPeriod))
    }


posting.register_append_hook(roll_up)
