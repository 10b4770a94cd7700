"""Query parameters of the API, checked strictly: unknown or repeated names, bad times and
limits become QueryError (400) naming the parameter. Pure: no request, session or clock."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from central.errors import QueryError
from central.plays import queries

VALUE_CHARS_MAX = 256  # no parameter needs more; longer is refused before parsing


def check_args(args: Mapping[str, Sequence[str]], allowed: Collection[str]) -> dict[str, str]:
    """{name: value} of `args` (name -> every value given), each name allowed and given once."""
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise QueryError(
            f"unknown parameter {', '.join(unknown)[:VALUE_CHARS_MAX]}:"
            f" use {', '.join(sorted(allowed))}"
        )
    values = {}
    for name, given in args.items():
        if len(given) != 1:
            raise QueryError(f"{name}: given {len(given)} times, give it once")
        if len(given[0]) > VALUE_CHARS_MAX:
            raise QueryError(f"{name}: longer than {VALUE_CHARS_MAX} characters")
        values[name] = given[0]
    return values


def time_range(values: Mapping[str, str], now_ms: int, default_span_ms: int) -> queries.TimeRange:
    """[since, until) from `values`; until defaults to now, since to until - default_span_ms."""
    return queries.parse_time_range(
        values.get("since"), values.get("until"), now_ms, default_span_ms
    )


def limit(values: Mapping[str, str], default: int, limit_max: int) -> int:
    """The `limit` parameter: a whole number 1..limit_max, `default` when absent."""
    if "limit" not in values:
        return default
    text = values["limit"].strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise QueryError(f"limit: a whole number 1-{limit_max}, got {values['limit']!r}")
    return queries.check_limit(int(text), limit_max)


def play_filter(values: Mapping[str, str]) -> queries.PlayFilter:
    """track, status and order of a plays query."""
    return queries.play_filter(
        track_external_id=values.get("track"),
        status=values.get("status"),
        order=values.get("order", "asc"),
    )
