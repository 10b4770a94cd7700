"""Tests for central.api.params: the API's query parameters, parsed strictly and without I/O."""

from __future__ import annotations

import pytest

from central.api import params
from central.errors import QueryError
from central.plays import queries

NOW_MS = 1_788_220_800_000  # 2026-09-01T00:00:00Z
HOUR_MS = 3_600_000


def test_check_args_returns_one_value_per_name() -> None:
    """Allowed names given once come back as a plain dict."""
    assert params.check_args({"since": ["1h"], "limit": ["5"]}, ("since", "limit", "until")) == {
        "since": "1h",
        "limit": "5",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"sinse": ["1h"]}, "unknown parameter sinse: use limit, since"),
        ({"since": ["1h", "2h"]}, "since: given 2 times"),
        ({"since": ["x" * 300]}, "since: longer than 256 characters"),
    ],
)
def test_check_args_refuses_unknown_repeated_and_long(args: dict, message: str) -> None:
    """A misspelt, repeated or oversized parameter is an error naming it."""
    with pytest.raises(QueryError, match=message):
        params.check_args(args, ("since", "limit"))


def test_time_range_defaults_to_a_span_before_now() -> None:
    """No since/until: [now - default span, now)."""
    assert params.time_range({}, NOW_MS, HOUR_MS) == queries.TimeRange(NOW_MS - HOUR_MS, NOW_MS)


def test_time_range_default_since_follows_until() -> None:
    """Only until given: since is the default span before it."""
    span = params.time_range({"until": "2026-09-01T00:00Z"}, NOW_MS + 10 * HOUR_MS, HOUR_MS)
    assert span == queries.TimeRange(NOW_MS - HOUR_MS, NOW_MS)


@pytest.mark.parametrize(
    "text",
    [
        "2026-09-01T00:00:00Z",
        "2026-09-01T00:00:00.000+00:00",
        "2026-09-01T02:00:00+02:00",
        "2026-09-01T00:00",
        "2026-09-01",
        str(NOW_MS),
    ],
)
def test_times_in_iso_or_epoch_ms(text: str) -> None:
    """ISO-8601 with Z, an offset or none (UTC), a date alone, and epoch ms mean one instant."""
    span = params.time_range({"since": text}, NOW_MS + HOUR_MS, HOUR_MS)
    assert span.since_ms == NOW_MS


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"since": "tomorrow"}, "since: 'tomorrow' is no time"),
        ({"until": ""}, "until:"),
        ({"since": "2026-02-30"}, "since:"),
        ({"since": "1" * 70}, "since: longer than 64"),
        ({"since": "9" * 20}, "since: .* ms is outside 1970-01-01..9999-12-31"),
        ({"since": "1969-12-31T23:59:59Z"}, "outside 1970"),
        ({"since": str(NOW_MS + 1)}, "is after until"),
        ({"since": "32d"}, "range of 32.0 days: at most 31 days per query"),
    ],
)
def test_bad_times_and_ranges_are_refused(values: dict, message: str) -> None:
    """Unreadable times, times out of range, reversed and over-wide ranges are QueryErrors."""
    with pytest.raises(QueryError, match=message):
        params.time_range(values, NOW_MS, HOUR_MS)


def test_a_range_of_exactly_the_maximum_is_allowed() -> None:
    """31 days is allowed: the bound is inclusive."""
    span = params.time_range({"since": "31d"}, NOW_MS, HOUR_MS)
    assert span.until_ms - span.since_ms == queries.RANGE_MS_MAX


@pytest.mark.parametrize(("text", "expected"), [(None, 100), ("1", 1), ("1000", 1000)])
def test_limit_within_bounds(text: str | None, expected: int) -> None:
    """A limit of 1..max is taken; none gives the default."""
    values = {} if text is None else {"limit": text}
    assert params.limit(values, 100, 1000) == expected


@pytest.mark.parametrize("text", ["0", "1001", "-1", "1.5", "ten", "", "٣", "9" * 40])
def test_limit_out_of_bounds(text: str) -> None:
    """Zero, too many, negative, fractional, words and non-ASCII digits are refused."""
    with pytest.raises(QueryError, match="limit:"):
        params.limit({"limit": text}, 100, 1000)


def test_play_filter_from_values() -> None:
    """track, status and order are read; order defaults to asc."""
    assert params.play_filter({"track": "A", "status": "open"}) == queries.PlayFilter(
        "A", "open", "asc"
    )
    with pytest.raises(QueryError, match="status: one of open, closed"):
        params.play_filter({"status": "all"})
