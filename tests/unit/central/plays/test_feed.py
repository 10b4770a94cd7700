"""The live feed cursor: ids that commit late are asked for again, never shown twice, and what
a cursor holds stays bounded."""

from __future__ import annotations

import pytest

from central.errors import QueryError
from central.plays import feed
from central.plays.feed import Cursor


def test_advance_moves_to_the_highest_id_found() -> None:
    """Consecutive ids found: the cursor is the highest, nothing held."""
    assert feed.advance(Cursor(10), [11, 12, 13]) == Cursor(13)


def test_an_id_missing_below_the_highest_is_held_until_it_appears() -> None:
    """Id 12 commits after 13 was seen: it is held, asked for again, and let go once found."""
    cursor = feed.advance(Cursor(10), [11, 13])
    assert cursor == Cursor(13, (12,))
    assert feed.advance(cursor, [12]) == Cursor(13)


def test_nothing_found_keeps_the_cursor() -> None:
    """A poll that finds nothing changes nothing."""
    assert feed.advance(Cursor(13, (12,)), []) == Cursor(13, (12,))


def test_held_ids_are_let_go_far_behind_and_bounded() -> None:
    """An id that never commits is dropped HELD_SPAN ids later; at most HELD_MAX are held."""
    cursor = feed.advance(Cursor(10), [11, 13])
    cursor = feed.advance(cursor, [13 + feed.HELD_SPAN])
    assert 12 not in cursor.held
    sparse = feed.advance(Cursor(0), range(2, 400, 2))
    assert len(sparse.held) == feed.HELD_MAX and sparse.held[-1] == 397


def test_start_holds_the_gaps_just_below_the_top() -> None:
    """A feed opened now holds the missing ids within HELD_SPAN of the highest stored."""
    assert feed.start(None, []) == Cursor(0)
    assert feed.start(5, [1, 2, 4]) == Cursor(5, (3,))


def test_parse_round_trips_and_refuses_junk() -> None:
    """after and held from a URL come back as the cursor; malformed or far-off ids are refused."""
    cursor = Cursor(900, (880, 899))
    assert feed.parse("900", feed.held_text(cursor)) == cursor
    assert feed.parse("7", "") == Cursor(7)
    assert feed.parse(None, None) is None
    for after, held in (("x", ""), ("9" * 11, ""), ("900", "901"), ("900", "1"), ("9", "a.b")):
        with pytest.raises(QueryError):
            feed.parse(after, held)
