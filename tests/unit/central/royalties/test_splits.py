"""Rights splits: parts add up exactly, stay within a unit of their share; codes are checked."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central.ledger.money import split_minor as allocate
from central.royalties.splits import (
    SUSPENSE,
    Share,
    check_shares,
    normalize_isrc,
    normalize_iswc,
    split_pool,
)


@given(
    st.integers(0, 10**12),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=30).filter(lambda ws: sum(ws) > 0),
)
def test_allocation_is_exact_and_fair(amount_minor: int, weights: list[int]) -> None:
    """The parts add up to the amount, and each is less than one unit from its exact share."""
    parts = allocate(amount_minor, weights)
    assert sum(parts) == amount_minor
    for part, weight in zip(parts, weights):
        exact = Fraction(amount_minor * weight, sum(weights))
        assert abs(part - exact) < 1


def test_leftover_units_go_to_the_largest_remainders_then_in_order() -> None:
    """100 over three equal parts: the first gets the spare unit; remainders decide otherwise."""
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(10, [15, 50, 35]) == [2, 5, 3]  # 1.5, 5.0, 3.5: the tie goes to the first


def test_shares_must_add_up_to_a_whole() -> None:
    """99.99 % or a zero share is refused with a reason."""
    assert check_shares([Share("a", 5000), Share("b", 4999)]) == [
        "shares add up to 99.99 %, not 100 %"
    ]
    assert check_shares([Share("a", 10_000), Share("b", 0)]) == ["share of b is 0 bp"]
    assert check_shares([Share("a", 2500), Share(SUSPENSE, 7500)]) == []


def test_a_pool_merges_parts_of_one_owner_and_keeps_suspense() -> None:
    """Two shares of one writer are one credit; the unclaimed share is kept for its owner."""
    parts = split_pool(1001, [Share("w", 2500), Share(SUSPENSE, 5000), Share("w", 2500)])
    assert dict(parts) == {"w": 500, SUSPENSE: 501} or dict(parts) == {"w": 501, SUSPENSE: 500}
    assert sum(p for _, p in parts) == 1001


def test_isrc_and_iswc_are_normalised_and_checked() -> None:
    """Dashes and case do not matter; a wrong shape or ISWC check digit is refused."""
    assert normalize_isrc("gh-a01-26-00001") == "GHA012600001"
    assert normalize_iswc("T-034.524.680-1") == "T0345246801"
    with pytest.raises(ValueError, match="no ISRC"):
        normalize_isrc("GHA0126001")
    with pytest.raises(ValueError, match="check digit should be 1"):
        normalize_iswc("T-034.524.680-2")
