"""The console's formatting filters show money, instants and ages one way on every page."""

from __future__ import annotations

from datetime import UTC, datetime

from central.console.templating import ago, day, instant, money

MS = 1_764_870_012_000  # 2025-12-04 17:40:12 UTC


def test_money_is_the_ledgers_format() -> None:
    """Minor units in the currency's exponent; none is a dash, not zero."""
    assert money(1250, "GHS") == "GHS 12.50"
    assert money(-5, "GHS") == "GHS -0.05"
    assert money(None) == "–"


def test_instants_are_utc_time_elements_from_any_form() -> None:
    """ms, aware and naive (UTC) datetimes and ISO strings give the same <time>."""
    shown = '<time datetime="2025-12-04T17:40:12Z">2025-12-04 17:40:12 UTC</time>'
    assert str(instant(MS)) == shown
    assert str(instant(datetime(2025, 12, 4, 17, 40, 12, tzinfo=UTC))) == shown
    assert str(instant(datetime(2025, 12, 4, 17, 40, 12))) == shown
    assert str(instant("2025-12-04T17:40:12.000Z")) == shown
    assert instant(None) == "–" and day(MS) == "2025-12-04"


def test_ages_use_the_largest_whole_unit() -> None:
    """Seconds, minutes, hours, days; the future is 0 s; never seen is 'never'."""
    assert ago(MS - 5_000, now=MS) == "5 s ago"
    assert ago(MS - 185_000, now=MS) == "3 min ago"
    assert ago(MS - 2 * 3_600_000, now=MS) == "2 h ago"
    assert ago(MS - 5 * 86_400_000, now=MS) == "5 d ago"
    assert ago(MS + 9_000, now=MS) == "0 s ago"
    assert ago(None) == "never"
