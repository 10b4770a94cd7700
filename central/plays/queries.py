"""Read queries over a station's plays and detections, as JSON-ready dicts (UTC ISO-8601 and ms).

A play belongs to the range [since, until) when it *starts* in it, so consecutive ranges never
share a play. Every query takes a scope: `parties` (ledger party codes: a play is theirs when its
track has a rights share of one of them) and `station_ids`; None means every party or station,
an empty set nothing. A play outside the scope is not found. Pages are ordered by (start_ms, id)
and continue after an opaque cursor. Open plays may still move when later batches arrive; closed
plays are final, so a log read page by page is exact for closed plays only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from central import cursors
from central.catalog.models import EXTERNAL_ID_CHARS_MAX, Track
from central.errors import QueryError
from central.matching.models import Detection
from central.plays import feed
from central.plays.models import Play
from central.royalties.models import RightsShare
from central.stations.models import Station
from central.stations.store import CODE as STATION_CODE
from central.times import INSTANT_MS_MAX, iso_datetime, iso_utc, parse_instant_ms

DAY_MS = 86_400_000
RANGE_MS_MAX = 31 * DAY_MS  # widest [since, until) one query may ask for
ROW_ID_MAX = 2**31 - 1  # integer primary keys; larger ids exist nowhere
DAYS_MAX = 366  # the longest plays-per-day series one query may ask for
PLAYS_LIMIT_DEFAULT = 100
PLAYS_LIMIT_MAX = 1000
DETECTIONS_LIMIT_DEFAULT = 100
DETECTIONS_LIMIT_MAX = 1000
STATUSES = ("open", "closed")
ORDERS = ("asc", "desc")
FEED_SCAN_MAX = 500  # rows one poll of the live feed reads at most; the rest come next poll
INSTANT_CHARS_MAX = 64  # longer text is no time; refused before parsing
_CURSOR = re.compile(r"([0-9]{1,15}):([0-9]{1,10})")


@dataclass(frozen=True)
class TimeRange:
    """[since_ms, until_ms) in UTC ms."""

    since_ms: int
    until_ms: int


@dataclass(frozen=True)
class PlayFilter:
    """Which plays, in which order: by track external id, station code, open or closed."""

    track_external_id: str | None = None
    status: str | None = None  # "open", "closed", or None for both
    order: str = "asc"  # by (start_ms, id)
    station_code: str | None = None


@dataclass(frozen=True)
class FeedPage:
    """The rows in scope stored after a live feed's cursor, newest first, and the next cursor."""

    rows: list[dict[str, Any]]
    cursor: feed.Cursor


@dataclass(frozen=True)
class PlayPage:
    """Up to `limit` plays, and the cursor of the next page (None on the last one)."""

    plays: list[dict[str, Any]]
    next_cursor: str | None


def time_range(since_ms: int, until_ms: int, span_ms_max: int = RANGE_MS_MAX) -> TimeRange:
    """[since_ms, until_ms), or QueryError when out of 1970..9999, reversed or too wide."""
    for name, ms in (("since", since_ms), ("until", until_ms)):
        if not 0 <= ms <= INSTANT_MS_MAX:
            raise QueryError(f"{name}: {ms} ms is outside 1970-01-01..9999-12-31 UTC")
    if since_ms > until_ms:
        raise QueryError(f"since ({iso_utc(since_ms)}) is after until ({iso_utc(until_ms)})")
    if until_ms - since_ms > span_ms_max:
        raise QueryError(
            f"range of {(until_ms - since_ms) / DAY_MS:.1f} days:"
            f" at most {span_ms_max / DAY_MS:g} days per query"
        )
    return TimeRange(since_ms, until_ms)


def parse_time_range(
    since: str | None,
    until: str | None,
    now_ms: int,
    default_span_ms: int,
    span_ms_max: int = RANGE_MS_MAX,
) -> TimeRange:
    """[since, until) from text (ISO-8601, no offset meaning UTC; epoch ms; or an age like 24h);
    until defaults to now, since to until - default_span_ms."""
    until_ms = now_ms if until is None else _instant_ms("until", until, now_ms)
    since_ms = until_ms - default_span_ms if since is None else _instant_ms("since", since, now_ms)
    return time_range(since_ms, until_ms, span_ms_max)


def check_limit(limit: int, limit_max: int) -> int:
    """`limit` when within 1..limit_max, else QueryError."""
    if not 1 <= limit <= limit_max:
        raise QueryError(f"limit: must be 1-{limit_max}, got {limit}")
    return limit


def play_filter(
    track_external_id: str | None = None,
    status: str | None = None,
    order: str = "asc",
    station_code: str | None = None,
) -> PlayFilter:
    """A PlayFilter, or QueryError naming the bad value."""
    if track_external_id is not None and (
        not 1 <= len(track_external_id) <= EXTERNAL_ID_CHARS_MAX
        or not track_external_id.isprintable()
    ):
        raise QueryError(f"track: an external id of 1-{EXTERNAL_ID_CHARS_MAX} printable characters")
    if status is not None and status not in STATUSES:
        raise QueryError(f"status: one of {', '.join(STATUSES)}")
    if order not in ORDERS:
        raise QueryError(f"order: one of {', '.join(ORDERS)}")
    if station_code is not None and not STATION_CODE.fullmatch(station_code):
        raise QueryError("station: a station code (letters, digits, '.', '_' and '-')")
    return PlayFilter(track_external_id, status, order, station_code)


def encode_cursor(start_ms: int, play_id: int) -> str:
    """The opaque cursor of the page after the play (start_ms, play_id)."""
    return cursors.encode_pair(start_ms, play_id)


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(start_ms, play_id) of a cursor made by encode_cursor, or QueryError."""
    start_ms, play_id = cursors.decode_pair(cursor, _CURSOR)
    if start_ms > INSTANT_MS_MAX or not 1 <= play_id <= ROW_ID_MAX:
        raise QueryError(cursors.REFUSED)
    return start_ms, play_id


def station_plays(
    session: Session,
    station_id: int,
    span: TimeRange,
    which: PlayFilter | None = None,
    limit: int = PLAYS_LIMIT_DEFAULT,
    cursor: str | None = None,
) -> PlayPage:
    """The station's plays starting in `span`, filtered, one page of at most `limit`."""
    return plays(session, span, which, limit, cursor, station_ids=frozenset({station_id}))


def plays(
    session: Session,
    span: TimeRange,
    which: PlayFilter | None = None,
    limit: int = PLAYS_LIMIT_DEFAULT,
    cursor: str | None = None,
    parties: frozenset[str] | None = None,
    station_ids: frozenset[int] | None = None,
) -> PlayPage:
    """The plays in scope starting in `span`, filtered, one page of at most `limit`."""
    check_limit(limit, PLAYS_LIMIT_MAX)
    which = which or PlayFilter()
    position = None if cursor is None else decode_cursor(cursor)
    if (parties is not None and not parties) or (station_ids is not None and not station_ids):
        return PlayPage([], None)
    # The page's ids first, from play's indexes alone (index-only scans of (track_id, start_ms,
    # id) or (start_ms, id) for most scopes), then those rows with their track and station.
    page = select(Play.id).where(Play.start_ms >= span.since_ms, Play.start_ms < span.until_ms)
    page = _scoped(_filtered(page, which), parties, station_ids)
    if position is not None:
        page = page.where(_after(position, which.order))
    keys = (Play.start_ms, Play.id)
    if which.order == "desc":
        keys = (Play.start_ms.desc(), Play.id.desc())
    ids = page.order_by(*keys).limit(limit + 1).subquery()
    query = _plays_query().join(ids, ids.c.id == Play.id).order_by(*keys)
    rows = session.execute(query).all()
    plays = [play_record(*row) for row in rows[:limit]]
    if len(rows) <= limit:
        return PlayPage(plays, None)
    last = plays[-1]
    return PlayPage(plays, encode_cursor(last["start_ms"], last["id"]))


def all_station_plays(
    session: Session, station_id: int, span: TimeRange, which: PlayFilter | None = None
) -> Iterator[dict[str, Any]]:
    """Every play of station_plays, page after page."""
    cursor = None
    while True:
        page = station_plays(session, station_id, span, which, PLAYS_LIMIT_MAX, cursor)
        yield from page.plays
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def find_play(
    session: Session,
    play_id: int,
    parties: frozenset[str] | None = None,
    station_ids: frozenset[int] | None = None,
) -> dict[str, Any] | None:
    """The play with this id, or None (also when it is outside the scope)."""
    if not 1 <= play_id <= ROW_ID_MAX:
        return None
    query = _scoped(_plays_query().where(Play.id == play_id), parties, station_ids)
    row = session.execute(query).first()
    return None if row is None else play_record(*row)


def last_days(now_ms: int, days: int) -> TimeRange:
    """The `days` whole UTC days ending with today's: [midnight days-1 ago, next midnight).
    Pure; QueryError outside 1..DAYS_MAX."""
    if not 1 <= days <= DAYS_MAX:
        raise QueryError(f"days: must be 1-{DAYS_MAX}, got {days}")
    tomorrow_ms = (now_ms // DAY_MS + 1) * DAY_MS
    return TimeRange(tomorrow_ms - days * DAY_MS, tomorrow_ms)


def plays_per_day(
    session: Session,
    span: TimeRange,
    parties: frozenset[str] | None = None,
    station_ids: frozenset[int] | None = None,
    track_id: int | None = None,
) -> list[dict[str, Any]]:
    """How many plays in scope (of one track, if given) started on each UTC day of `span`
    (whole days, at most DAYS_MAX): [{"day": "YYYY-MM-DD", "plays": n}] in order, days
    without plays as 0."""
    if span.since_ms % DAY_MS or span.until_ms % DAY_MS:
        raise QueryError("plays per day: since and until must be UTC midnights")
    first, end = span.since_ms // DAY_MS, span.until_ms // DAY_MS
    if not 0 <= end - first <= DAYS_MAX:
        raise QueryError(f"plays per day: 0-{DAYS_MAX} days, got {end - first}")
    counts: dict[int, int] = {}
    if not ((parties is not None and not parties) or (station_ids is not None and not station_ids)):
        day = (Play.start_ms // DAY_MS).label("day")
        query = select(day, func.count()).where(
            Play.start_ms >= span.since_ms, Play.start_ms < span.until_ms
        )
        if track_id is not None:  # on the (track_id, start_ms) index
            query = query.where(Play.track_id == track_id)
        query = _scoped(query, parties, station_ids).group_by(day)
        counts = {int(d): int(n) for d, n in session.execute(query)}
    return [{"day": iso_utc(n * DAY_MS)[:10], "plays": counts.get(n, 0)} for n in range(first, end)]


def party_track_ids(parties: frozenset[str]) -> Select:
    """The ids of the tracks one of `parties` has a rights share of."""
    return select(RightsShare.track_id).where(RightsShare.party.in_(sorted(parties)))


def recent_detections(
    session: Session, station_id: int, span: TimeRange, limit: int = DETECTIONS_LIMIT_DEFAULT
) -> list[dict[str, Any]]:
    """The station's detections starting in `span`, newest first, at most `limit`."""
    return detections(session, span, limit, station_ids=frozenset({station_id}))


def detections(
    session: Session,
    span: TimeRange,
    limit: int = DETECTIONS_LIMIT_DEFAULT,
    parties: frozenset[str] | None = None,
    station_ids: frozenset[int] | None = None,
) -> list[dict[str, Any]]:
    """The detections in scope starting in `span`, newest first, at most `limit`."""
    check_limit(limit, DETECTIONS_LIMIT_MAX)
    if not _in_scope(parties, station_ids):
        return []
    query = _detections_scoped(
        _detections_query().where(
            Detection.start_ms >= span.since_ms, Detection.start_ms < span.until_ms
        ),
        parties,
        station_ids,
    )
    query = query.order_by(Detection.start_ms.desc(), Detection.id.desc()).limit(limit)
    return [detection_record(*row) for row in session.execute(query)]


def feed_start(session: Session, kind: str) -> feed.Cursor:
    """The live feed cursor of "plays" or "detections" as of now: nothing stored yet is seen."""
    column = _FEED_IDS[kind]
    top = session.scalar(select(func.max(column)))
    if top is None:
        return feed.start(None, [])
    present = session.scalars(select(column).where(column > top - feed.HELD_SPAN, column <= top))
    return feed.start(top, present)


def plays_after(
    session: Session,
    cursor: feed.Cursor,
    parties: frozenset[str] | None = None,
    station_ids: frozenset[int] | None = None,
) -> FeedPage:
    """The plays in scope stored after `cursor` (or held by it), newest first."""
    present = _feed_ids(session, Play.id, cursor)
    rows: list[dict[str, Any]] = []
    if present and _in_scope(parties, station_ids):
        query = _scoped(_plays_query().where(Play.id.in_(present)), parties, station_ids)
        rows = [play_record(*row) for row in session.execute(query.order_by(Play.id.desc()))]
    return FeedPage(rows, feed.advance(cursor, present))


def detections_after(
    session: Session,
    cursor: feed.Cursor,
    parties: frozenset[str] | None = None,
    station_ids: frozenset[int] | None = None,
) -> FeedPage:
    """The detections in scope stored after `cursor` (or held by it), newest first."""
    present = _feed_ids(session, Detection.id, cursor)
    rows: list[dict[str, Any]] = []
    if present and _in_scope(parties, station_ids):
        query = _detections_query().where(Detection.id.in_(present))
        query = _detections_scoped(query, parties, station_ids).order_by(Detection.id.desc())
        rows = [detection_record(*row) for row in session.execute(query)]
    return FeedPage(rows, feed.advance(cursor, present))


def play_record(play: Play, track: Track, station_code: str) -> dict[str, Any]:
    """A play as JSON: times in ISO-8601 UTC and ms, its track, open or closed."""
    return {
        "id": play.id,
        "station": station_code,
        "track": track_record(track),
        **_interval(play.start_ms, play.end_ms),
        "confidence": play.confidence,
        "speed_ratio": play.speed_ratio,
        "inliers": play.inliers,
        "detections": play.detections,
        "chosen_by": play.chosen_by,
        "status": "open" if play.closed_at is None else "closed",
        "closed_at": iso_datetime(play.closed_at),
        "updated_at": iso_datetime(play.updated_at),
    }


def detection_record(detection: Detection, track: Track, station_code: str) -> dict[str, Any]:
    """A detection as JSON: times in ISO-8601 UTC and ms, its track, its evidence."""
    return {
        "id": detection.id,
        "station": station_code,
        "track": track_record(track),
        **_interval(detection.start_ms, detection.end_ms),
        "confidence": detection.confidence,
        "inliers": detection.inliers,
        "strong": detection.strong,
        "speed_ratio": detection.speed_ratio,
    }


def track_record(track: Track) -> dict[str, Any]:
    """The catalogue facts of a track that a play log shows."""
    return {
        "external_id": track.external_id,
        "title": track.title,
        "artist": track.artist,
        "isrc": track.isrc,
        "duration_ms": track.duration_ms,
    }


def _instant_ms(name: str, text: str, now_ms: int) -> int:
    """UTC ms of `text`, or QueryError naming the parameter."""
    if len(text) > INSTANT_CHARS_MAX:
        raise QueryError(f"{name}: longer than {INSTANT_CHARS_MAX} characters")
    try:
        return parse_instant_ms(text, now_ms)
    except (ValueError, OverflowError) as error:
        raise QueryError(f"{name}: {error}") from None


def _interval(start_ms: int, end_ms: int) -> dict[str, Any]:
    """start, end (ISO-8601 and ms) and duration_ms."""
    return {
        "start": iso_utc(start_ms),
        "start_ms": start_ms,
        "end": iso_utc(end_ms),
        "end_ms": end_ms,
        "duration_ms": end_ms - start_ms,
    }


def _plays_query() -> Select:
    """Plays with their track and station code."""
    return (
        select(Play, Track, Station.code)
        .join(Track, Track.id == Play.track_id)
        .join(Station, Station.id == Play.station_id)
    )


def _detections_query() -> Select:
    """Detections with their track and station code."""
    return (
        select(Detection, Track, Station.code)
        .join(Track, Track.id == Detection.track_id)
        .join(Station, Station.id == Detection.station_id)
    )


_FEED_IDS = {"plays": Play.id, "detections": Detection.id}


def _feed_ids(session: Session, column: InstrumentedAttribute, cursor: feed.Cursor) -> list[int]:
    """The ids stored after `cursor` or held by it, in any scope, lowest first: one index range
    (the scope is applied to these rows only, so a poll costs the same for every caller)."""
    wanted = column > cursor.after
    if cursor.held:
        wanted = or_(wanted, column.in_(cursor.held))
    return list(session.scalars(select(column).where(wanted).order_by(column).limit(FEED_SCAN_MAX)))


def _in_scope(parties: frozenset[str] | None, station_ids: frozenset[int] | None) -> bool:
    """Whether the scope holds anything at all (an empty set of parties or stations: nothing)."""
    return (parties is None or bool(parties)) and (station_ids is None or bool(station_ids))


def _detections_scoped(
    query: Select, parties: frozenset[str] | None, station_ids: frozenset[int] | None
) -> Select:
    """`query` narrowed to the detections of `parties`' tracks and of `station_ids`."""
    if parties is not None:
        query = query.where(Detection.track_id.in_(party_track_ids(parties)))
    if station_ids is not None:
        query = query.where(Detection.station_id.in_(sorted(station_ids)))
    return query


def _filtered(query: Select, which: PlayFilter) -> Select:
    """`query` narrowed to one track and to open or closed plays, as asked."""
    if which.track_external_id is not None:
        track_id = select(Track.id).where(Track.external_id == which.track_external_id)
        query = query.where(Play.track_id == track_id.scalar_subquery())
    if which.station_code is not None:
        station_id = select(Station.id).where(Station.code == which.station_code)
        query = query.where(Play.station_id == station_id.scalar_subquery())
    if which.status == "open":
        query = query.where(Play.closed_at.is_(None))
    elif which.status == "closed":
        query = query.where(Play.closed_at.is_not(None))
    return query


def _scoped(
    query: Select, parties: frozenset[str] | None, station_ids: frozenset[int] | None
) -> Select:
    """`query` narrowed to the plays of `parties`' tracks and of `station_ids` (None: all)."""
    if parties is not None:
        query = query.where(Play.track_id.in_(party_track_ids(parties)))
    if station_ids is not None:
        query = query.where(Play.station_id.in_(sorted(station_ids)))
    return query


def _after(position: tuple[int, int], order: str) -> Any:
    """Plays past (start_ms, id) in `order`: the rows of the next page (with a plain bound on
    start_ms too, which an index range can use)."""
    start_ms, play_id = position
    if order == "asc":
        return and_(
            Play.start_ms >= start_ms,
            or_(Play.start_ms > start_ms, and_(Play.start_ms == start_ms, Play.id > play_id)),
        )
    return and_(
        Play.start_ms <= start_ms,
        or_(Play.start_ms < start_ms, and_(Play.start_ms == start_ms, Play.id < play_id)),
    )
