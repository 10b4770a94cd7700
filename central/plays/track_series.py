"""A track's plays per UTC day over the last days, at every station (the catalogue's chart):
the count is one indexed GROUP BY on (track_id, start_ms); `day_series` fills the days
without plays, without I/O."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.errors import QueryError
from central.plays.models import Play
from central.times import iso_utc

DAY_MS = 86_400_000
DAYS_MAX = 366


def day_series(counts: dict[int, int], first_day: int, end_day: int) -> list[dict[str, Any]]:
    """[{"day": "YYYY-MM-DD", "plays": n}] for each day number in [first_day, end_day), 0 for
    the days `counts` (day number -> plays) lacks. Pure."""
    return [
        {"day": iso_utc(n * DAY_MS)[:10], "plays": counts.get(n, 0)}
        for n in range(first_day, end_day)
    ]


def track_plays_per_day(
    session: Session, track_id: int, now_ms: int, days: int = 90
) -> list[dict[str, Any]]:
    """How many plays of the track started on each of the last `days` UTC days (today
    included), at every station."""
    if not 1 <= days <= DAYS_MAX:
        raise QueryError(f"days: 1 to {DAYS_MAX}")
    end_day = now_ms // DAY_MS + 1
    first_day = end_day - days
    day = (Play.start_ms // DAY_MS).label("day")
    query = (
        select(day, func.count())
        .where(Play.track_id == track_id)
        .where(Play.start_ms >= first_day * DAY_MS, Play.start_ms < end_day * DAY_MS)
        .group_by(day)
    )
    counts = {int(d): int(n) for d, n in session.execute(query)}
    return day_series(counts, first_day, end_day)
