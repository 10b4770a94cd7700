"""central.plays.queries on real PostgreSQL: the range [since, until), filters, cursor pages that
neither repeat nor skip a play, recent detections, and the JSON shape of a play."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from central.errors import QueryError
from central.extensions import db
from central.plays import queries
from tests.integration.central.rows import (
    MINUTE_MS,
    T0_MS,
    add_detection,
    add_play,
    add_station,
    add_track,
)

pytestmark = pytest.mark.integration

HOUR_MS = 60 * MINUTE_MS


@pytest.fixture
def session(pg_app: Flask) -> Iterator[Session]:
    """The app's session inside an app context."""
    with pg_app.app_context():
        yield db.session


def starts(page_or_rows) -> list[int]:
    """start_ms of each play (or detection), relative to T0_MS."""
    rows = page_or_rows.plays if isinstance(page_or_rows, queries.PlayPage) else page_or_rows
    return [r["start_ms"] - T0_MS for r in rows]


def test_range_includes_since_and_excludes_until(session: Session) -> None:
    """A play starting at since is in, one starting at until is out, and one that started
    before since is out even though it is still on air at since."""
    station = add_station(session, "joy-fm")
    track = add_track(session, "A")
    for start_ms in (-MINUTE_MS, 0, HOUR_MS - 1, HOUR_MS):
        add_play(session, station, track, T0_MS + start_ms)
    span = queries.time_range(T0_MS, T0_MS + HOUR_MS)
    assert starts(queries.station_plays(session, station.id, span)) == [0, HOUR_MS - 1]


def test_adjacent_ranges_share_no_play(session: Session) -> None:
    """Every play lies in exactly one of two ranges that meet."""
    station = add_station(session, "joy-fm")
    track = add_track(session, "A")
    for n in range(10):
        add_play(session, station, track, T0_MS + n * 10 * MINUTE_MS)
    first = queries.time_range(T0_MS, T0_MS + 50 * MINUTE_MS)
    second = queries.time_range(T0_MS + 50 * MINUTE_MS, T0_MS + 2 * HOUR_MS)
    both = starts(queries.station_plays(session, station.id, first))
    both += starts(queries.station_plays(session, station.id, second))
    assert both == [n * 10 * MINUTE_MS for n in range(10)]


def test_other_stations_plays_are_not_shown(session: Session) -> None:
    """Only the asked station's plays come back."""
    joy, peace = add_station(session, "joy-fm"), add_station(session, "peace-fm")
    track = add_track(session, "A")
    add_play(session, joy, track, T0_MS)
    add_play(session, peace, track, T0_MS + MINUTE_MS)
    span = queries.time_range(T0_MS, T0_MS + HOUR_MS)
    page = queries.station_plays(session, peace.id, span)
    assert [p["station"] for p in page.plays] == ["peace-fm"]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 3, 7, 40])
def test_pages_neither_repeat_nor_skip(session: Session, order: str, limit: int) -> None:
    """Following next_cursor yields every play once, in (start_ms, id) order, even when several
    plays start in the same millisecond."""
    station = add_station(session, "joy-fm")
    tracks = [add_track(session, name) for name in "ABC"]
    ids = []
    for n in range(20):
        for track in tracks[: 1 + n % 3]:  # up to three plays share a start
            ids.append(add_play(session, station, track, T0_MS + n * MINUTE_MS).id)
    span = queries.time_range(T0_MS, T0_MS + HOUR_MS)
    which = queries.play_filter(order=order)
    seen, cursor, pages = [], None, 0
    for _ in range(len(ids) + 1):  # bounded: a cursor that does not advance fails, not hangs
        page = queries.station_plays(session, station.id, span, which, limit, cursor)
        assert len(page.plays) <= limit
        seen += [(p["start_ms"], p["id"]) for p in page.plays]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen, reverse=order == "desc") == seen
    assert sorted(i for _, i in seen) == sorted(ids)
    assert pages == max(1, -(-len(ids) // limit))


def test_filters_by_track_and_status(session: Session) -> None:
    """track keeps one track's plays; status keeps the open or the closed ones."""
    station = add_station(session, "joy-fm")
    a, b = add_track(session, "A"), add_track(session, "B")
    add_play(session, station, a, T0_MS, closed=True)
    add_play(session, station, b, T0_MS + 5 * MINUTE_MS, closed=True)
    add_play(session, station, a, T0_MS + 10 * MINUTE_MS, closed=False)
    span = queries.time_range(T0_MS, T0_MS + HOUR_MS)

    def found(**kwargs) -> list[tuple[str, int]]:
        page = queries.station_plays(session, station.id, span, queries.play_filter(**kwargs))
        return [(p["track"]["external_id"], p["start_ms"] - T0_MS) for p in page.plays]

    assert found(track_external_id="A") == [("A", 0), ("A", 10 * MINUTE_MS)]
    assert found(status="open") == [("A", 10 * MINUTE_MS)]
    assert found(status="closed") == [("A", 0), ("B", 5 * MINUTE_MS)]
    assert found(track_external_id="A", status="closed") == [("A", 0)]
    assert found(track_external_id="nobody") == []


def test_play_record_is_json_ready(session: Session) -> None:
    """A play comes back with ISO-8601 UTC times and ms, its track, duration and status."""
    station = add_station(session, "joy-fm")
    track = add_track(session, "A", artist=None)
    play = add_play(session, station, track, T0_MS + 1_234, duration_ms=200_500, closed=False)
    record = queries.find_play(session, play.id)
    assert record == {
        "id": play.id,
        "station": "joy-fm",
        "track": {
            "external_id": "A",
            "title": "Title A",
            "artist": None,
            "isrc": None,
            "duration_ms": 180_000,
        },
        "start": "2026-09-01T00:00:01.234Z",
        "start_ms": T0_MS + 1_234,
        "end": "2026-09-01T00:03:21.734Z",
        "end_ms": T0_MS + 201_734,
        "duration_ms": 200_500,
        "confidence": 0.875,
        "speed_ratio": 1.0,
        "inliers": 120,
        "detections": 12,
        "chosen_by": None,
        "status": "open",
        "closed_at": None,
        "updated_at": record["updated_at"],
    }
    assert record["updated_at"].endswith("Z")
    assert queries.find_play(session, play.id + 1) is None
    assert queries.find_play(session, 2**40) is None  # past the integer column: no SQL error


def test_recent_detections_newest_first_and_bounded(session: Session) -> None:
    """Detections of the station starting in the range come newest first, at most `limit`."""
    station = add_station(session, "joy-fm", devices=("pi-01",))
    other = add_station(session, "peace-fm", devices=("pi-02",))
    track = add_track(session, "A")
    for n in range(6):
        add_detection(session, station, track, T0_MS + n * 10_000)
    add_detection(session, other, track, T0_MS + 15_000)
    span = queries.time_range(T0_MS + 10_000, T0_MS + 50_000)
    rows = queries.recent_detections(session, station.id, span, limit=3)
    assert starts(rows) == [40_000, 30_000, 20_000]
    assert rows[0]["track"]["external_id"] == "A" and rows[0]["strong"] is True
    assert rows[0]["start"] == "2026-09-01T00:00:40.000Z" and rows[0]["duration_ms"] == 9_000


def test_a_cursor_of_another_shape_is_refused(session: Session) -> None:
    """A tampered cursor is a QueryError, not an SQL error."""
    station = add_station(session, "joy-fm")
    span = queries.time_range(T0_MS, T0_MS + HOUR_MS)
    for cursor in ("", "nonsense!", queries.encode_cursor(T0_MS, 2**40), "MTox" * 20):
        with pytest.raises(QueryError, match="cursor"):
            queries.station_plays(session, station.id, span, cursor=cursor)
