"""The pure parts of earnings and its rollup: which key belongs to which play, how a period is
cut into whole months and ends, and statement cursors."""

from __future__ import annotations

import pytest

from central.errors import QueryError
from central.plays.queries import TimeRange
from central.royalties import earnings, periods, rollup

DEC_2025 = 1_764_547_200_000  # 2025-12-01T00:00:00Z
JAN_2026 = 1_767_225_600_000
FEB_2026 = 1_769_904_000_000
DAY_MS = 86_400_000


@pytest.mark.parametrize(
    ("key", "play_id"),
    [
        ("royalty:play:42", 42),
        ("royalty:play:42:hold:d-1", 42),
        ("royalty:play:42:hold:d-1:reversal", 42),
        ("royalty:play:42:release:r-1", 42),
        ("royalty:play:", None),
        ("royalty:play:x1", None),
        ("royalty:play:1234567890", None),  # more digits than an id has
        ("royalty:claim:royalty:play:42", None),
        ("payout:42", None),
    ],
)
def test_a_key_names_its_play_only_when_it_is_the_plays_or_starts_with_it(key, play_id):
    """The accrual's key and its holds' keys name the play; any other key none."""
    assert rollup.play_id_of_key(key) == play_id


def test_party_accounts_are_rolled_up_and_reserved_ones_are_not():
    """Earnings accounts are kept by month; station, suspense, fee and hold accounts are not."""
    assert rollup.is_rolled_up("artist:ama:earnings") and rollup.is_rolled_up("label:x:earnings")
    for code in ("station:joy-fm:wallet", "platform:fees", "suspense:master", "hold:x"):
        assert not rollup.is_rolled_up(code)


def test_months_start_and_follow_in_utc_across_a_year_end():
    """December's start, its next month, and a month start from an instant inside it."""
    assert periods.month_start_ms(DEC_2025 + 5 * DAY_MS + 7) == DEC_2025
    assert periods.next_month_ms(DEC_2025) == JAN_2026
    assert periods.next_month_ms(JAN_2026) == FEB_2026


def test_a_period_is_cut_into_whole_months_whole_days_and_partial_ends():
    """Whole months and days come from the rollup, the ends from entries; a span inside one day,
    or an account not rolled up, is entries only; aligned spans have no ends."""
    mid_dec, mid_jan = DEC_2025 + 15 * DAY_MS + 7, JAN_2026 + 10 * DAY_MS
    day_after = DEC_2025 + 16 * DAY_MS
    assert periods.period_parts(TimeRange(mid_dec, FEB_2026 + 3), True) == [
        ("entries", mid_dec, day_after), ("day", day_after, JAN_2026),
        ("month", JAN_2026, FEB_2026), ("entries", FEB_2026, FEB_2026 + 3),
    ]  # fmt: skip
    assert periods.period_parts(TimeRange(DEC_2025, FEB_2026), True) == [
        ("month", DEC_2025, FEB_2026)
    ]
    assert periods.period_parts(TimeRange(mid_dec, mid_jan), True) == [
        ("entries", mid_dec, day_after), ("day", day_after, mid_jan)
    ]  # fmt: skip
    assert periods.period_parts(TimeRange(mid_dec, mid_dec + 3600_000), True) == [
        ("entries", mid_dec, mid_dec + 3600_000)
    ]
    assert periods.period_parts(TimeRange(DEC_2025, FEB_2026), False) == [
        ("entries", DEC_2025, FEB_2026)
    ]


def test_statement_cursors_round_trip_and_strangers_are_refused():
    """A cursor decodes to its (seq, leg); text this API never gave out is a QueryError."""
    assert earnings.decode_cursor(earnings.encode_cursor(123456, 4)) == (123456, 4)
    for bad in ("", "!!", "MDox", "x" * 40, earnings.encode_cursor(1, 1) + "é"):
        with pytest.raises(QueryError, match="cursor"):
            earnings.decode_cursor(bad)


def test_scope_codes_name_the_callers_parties():
    """A named party in scope, every party of the scope, none out of scope; see-all callers
    name one."""
    mine = frozenset({"artist:b:earnings", "artist:a:earnings"})
    assert earnings.scope_codes(mine, None) == ["artist:a:earnings", "artist:b:earnings"]
    assert earnings.scope_codes(mine, "artist:a:earnings") == ["artist:a:earnings"]
    assert earnings.scope_codes(mine, "artist:c:earnings") == []
    assert earnings.scope_codes(None, "artist:c:earnings") == ["artist:c:earnings"]
    with pytest.raises(QueryError):
        earnings.scope_codes(None, None)
