"""Tariffs: the card in force, bands across midnight, the most specific line, exact amounts
with their explanation, and blanket pools shared out exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from central.royalties.tariff import (
    ANY,
    BLANKET,
    DEFAULT_RATE_MICRO_MINOR_PER_S,
    PER_PLAY,
    PER_SECOND,
    Band,
    PlayFacts,
    RateCard,
    RateLine,
    blanket_weight,
    card_in_force,
    price_play,
    share_blanket,
)

DAY_MS = 86_400_000
BANDS = (Band("drive", 6 * 60, 10 * 60), Band("night", 22 * 60, 5 * 60))


def card(version: int, from_ms: int, *lines: RateLine, card_id: int = 1) -> RateCard:
    """A GHS card `broadcast` with the drive and night bands."""
    return RateCard(card_id, "broadcast", version, "GHS", from_ms, BANDS, tuple(lines))


BASE = RateLine(ANY, ANY, PER_SECOND, DEFAULT_RATE_MICRO_MINOR_PER_S)


def play(duration_ms: int = 180_000, station_class: str = "A", minute: int = 12 * 60) -> PlayFacts:
    """A play of class `station_class` starting at local `minute`."""
    return PlayFacts(1, station_class, 5 * DAY_MS, duration_ms, minute)


def test_the_newest_version_in_force_applies() -> None:
    """Version 2 takes over on its date; before it, version 1; before both, none."""
    v1, v2 = card(1, DAY_MS, BASE), card(2, 3 * DAY_MS, BASE, card_id=2)
    assert card_in_force([v2, v1], "broadcast", 2 * DAY_MS) is v1
    assert card_in_force([v1, v2], "broadcast", 3 * DAY_MS) is v2
    assert card_in_force([v1, v2], "broadcast", 0) is None
    assert card_in_force([v1, v2], "other", 3 * DAY_MS) is None


def test_default_rate_is_half_a_pesewa_per_second() -> None:
    """Three minutes at GHS 0.005/s is GHS 0.90, explained with card, band and formula."""
    price = price_play(card(1, 0, BASE), play(180_000))
    assert price.amount_minor == 90
    assert price.explanation["rate_card"] == "broadcast v1"
    assert price.explanation["band"] == ANY
    assert price.explanation["seconds"] == 180.0
    assert "180000 ms" in price.explanation["formula"]


def test_rounding_is_half_to_even_on_the_exact_amount() -> None:
    """31 s at 0.5 pesewa/s is 15.5: rounds to 16; 33 s (16.5) rounds to 16."""
    tariff = card(1, 0, BASE)
    assert price_play(tariff, play(31_000)).amount_minor == 16
    assert price_play(tariff, play(33_000)).amount_minor == 16


def test_the_most_specific_line_and_band_win() -> None:
    """Class A in drive time has its own rate; night wraps midnight; others take the base."""
    drive_a = RateLine("A", "drive", PER_SECOND, 1_000_000)
    night = RateLine(ANY, "night", PER_PLAY, 25_000_000)
    tariff = card(1, 0, BASE, drive_a, night)
    assert price_play(tariff, play(60_000, "A", 7 * 60)).amount_minor == 60
    assert price_play(tariff, play(60_000, "B", 7 * 60)).amount_minor == 30
    assert price_play(tariff, play(60_000, "B", 23 * 60)).amount_minor == 25
    assert price_play(tariff, play(60_000, "A", 2 * 60)).explanation["band"] == "night"


def test_blanket_lines_price_nothing_per_play_but_weigh_in_the_pool() -> None:
    """A blanket card gives no per-play amount; its weight is seconds times the line's weight."""
    tariff = card(1, 0, RateLine(ANY, ANY, BLANKET, 2_000_000))
    assert price_play(tariff, play(30_000)) is None
    assert blanket_weight(tariff, play(30_000)) == 60_000_000


@given(st.integers(0, 10**9), st.dictionaries(st.integers(1, 10**6), st.integers(0, 10**9)))
def test_blanket_pool_is_shared_out_exactly(pool_minor: int, weights: dict[int, int]) -> None:
    """Every pesewa of the pool goes to a play with weight; none when nothing weighs."""
    shares = share_blanket(pool_minor, weights)
    if any(w > 0 for w in weights.values()):
        assert sum(shares.values()) == pool_minor
        assert all(weights[i] > 0 for i in shares)
    else:
        assert shares == {}
