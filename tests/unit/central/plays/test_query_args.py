"""Tests for the pure parts of central.plays.queries: ranges, limits, filters and cursors."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

from central.errors import QueryError
from central.plays import queries

T0_MS = 1_788_220_800_000


def test_cursor_round_trip() -> None:
    """decode_cursor gives back what encode_cursor was given."""
    for start_ms, play_id in [(0, 1), (T0_MS, 42), (queries.INSTANT_MS_MAX, queries.ROW_ID_MAX)]:
        cursor = queries.encode_cursor(start_ms, play_id)
        assert cursor.isascii() and "=" not in cursor
        assert queries.decode_cursor(cursor) == (start_ms, play_id)


def _b64(text: str) -> str:
    """`text` as unpadded base64url, like a cursor."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!!",
        "ü" * 8,
        "A" * 65,
        _b64("12:"),
        _b64("12:0"),
        _b64("-1:5"),
        _b64("1:2:3"),
        _b64(f"1:{2**31}"),
        _b64(f"{queries.INSTANT_MS_MAX + 1}:1"),
        _b64("١:1"),
        _b64("1:1") + "\n",
    ],
)
def test_forged_cursors_are_refused(cursor: str) -> None:
    """Anything but an encode_cursor output in range is a QueryError about the cursor."""
    with pytest.raises(QueryError, match="cursor: not a cursor"):
        queries.decode_cursor(cursor)


def test_time_range_bounds() -> None:
    """Equal ends give an empty range; reversed ones and ones past the maximum span do not."""
    assert queries.time_range(T0_MS, T0_MS) == queries.TimeRange(T0_MS, T0_MS)
    with pytest.raises(QueryError, match="is after until"):
        queries.time_range(T0_MS, T0_MS - 1)
    with pytest.raises(QueryError, match="at most 31 days"):
        queries.time_range(T0_MS, T0_MS + queries.RANGE_MS_MAX + 1)
    with pytest.raises(QueryError, match="since: -1 ms is outside"):
        queries.time_range(-1, T0_MS)


def test_play_filter_checks_its_values() -> None:
    """Status, order and track are checked; None means no filter."""
    assert queries.play_filter() == queries.PlayFilter(None, None, "asc")
    for kwargs, message in [
        ({"status": "OPEN"}, "status"),
        ({"order": "up"}, "order"),
        ({"track_external_id": "x" * 201}, "track"),
        ({"track_external_id": "a\nb"}, "track"),
    ]:
        with pytest.raises(QueryError, match=message):
            queries.play_filter(**kwargs)


def test_limits() -> None:
    """check_limit takes 1..max."""
    assert queries.check_limit(1, 5) == 1 and queries.check_limit(5, 5) == 5
    for limit in (0, 6, -1):
        with pytest.raises(QueryError, match="limit: must be 1-5"):
            queries.check_limit(limit, 5)


def test_iso_datetime_takes_naive_values_as_utc() -> None:
    """SQLite hands back naive datetimes: they are UTC, shown with a Z."""
    assert queries.iso_datetime(None) is None
    assert queries.iso_datetime(datetime(2026, 9, 1, 1, 2, 3)) == "2026-09-01T01:02:03.000Z"
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 9, 1, 3, 2, 3, 456789, tzinfo=plus_two)
    assert queries.iso_datetime(moment) == "2026-09-01T01:02:03.456Z"
