"""central.ledger.money: minor units, formatting, parsing and exact splits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central.ledger.errors import InvalidTransfer
from central.ledger.money import check_currency, format_minor, parse_minor, split_minor


def test_format_minor_shows_pesewas_and_sign() -> None:
    """1250 pesewas read GHS 12.50; negatives and zero-decimal currencies read right."""
    assert format_minor(1250, "GHS") == "GHS 12.50"
    assert format_minor(-5, "GHS") == "GHS -0.05"
    assert format_minor(123456789, "GHS") == "GHS 1,234,567.89"
    assert format_minor(500, "XOF") == "XOF 500"


def test_parse_minor_refuses_more_decimals_than_the_currency_has() -> None:
    """'12.5' is 1250 pesewas; '12.505' is refused instead of rounded."""
    assert parse_minor("12.5", "GHS") == 1250
    assert parse_minor("1,000", "GHS") == 100000
    assert parse_minor("-0.05", "GHS") == -5
    with pytest.raises(InvalidTransfer, match="decimals"):
        parse_minor("12.505", "GHS")


def test_unknown_currency_is_refused() -> None:
    """A currency the ledger does not keep is an error, not a default."""
    with pytest.raises(InvalidTransfer, match="currency 'GHC'"):
        check_currency("GHC")


def test_split_worked_example() -> None:
    """100 split 1:1:1 gives the odd pesewa to the first part; zero weights get nothing."""
    assert split_minor(100, [1, 1, 1]) == [34, 33, 33]
    assert split_minor(10, [0, 3, 7]) == [0, 3, 7]
    assert split_minor(1, [5000, 3000, 2000]) == [1, 0, 0]


@given(
    st.integers(0, 10**12),
    st.lists(st.integers(0, 10_000), min_size=1, max_size=40).filter(lambda w: sum(w) > 0),
)
def test_split_is_exact_and_fair(total_minor: int, weights: list[int]) -> None:
    """Parts add up to the total, and each is within one pesewa of its exact share."""
    parts = split_minor(total_minor, weights)
    assert sum(parts) == total_minor
    for part, weight in zip(parts, weights):
        exact = total_minor * weight / sum(weights)
        assert exact - 1 < part < exact + 1
        assert part >= 0


def test_split_refuses_bad_weights() -> None:
    """No parts, negative weights or a zero sum are programmer errors."""
    for weights in ([], [-1, 2], [0, 0]):
        with pytest.raises(ValueError):
            split_minor(100, weights)
