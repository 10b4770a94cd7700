"""Tariffs: versioned rate cards price a closed play, and say how.

A rate card is data: effective from a date (until the next version takes over), in a currency,
with time bands of the station's local day and rate lines by station class and band. A line is
per second on air, per play, or a weight in a blanket pool (a monthly licence fee shared out pro
rata by weighted seconds, see `share_blanket`). Rates are in micro-minor units (millionths of a
pesewa) so that fractions of a pesewa per second can be expressed exactly; an amount is rounded
to whole minor units once, half to even, and the explanation records the exact formula.

The default card follows the original ZamIO tariff: GHS 0.005 per second for every station
class and band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from central.ledger.money import split_minor

MICRO = 1_000_000
PER_SECOND, PER_PLAY, BLANKET = "per_second", "per_play", "blanket"
BASES = (PER_SECOND, PER_PLAY, BLANKET)
ANY = "*"
MINUTES_PER_DAY = 1440
DEFAULT_RATE_MICRO_MINOR_PER_S = 500_000  # GHS 0.005 = 0.5 pesewa per second


@dataclass(frozen=True)
class Band:
    """A stretch of the station's local day, [start_minute, end_minute); may wrap midnight."""

    name: str
    start_minute: int
    end_minute: int

    def holds(self, minute: int) -> bool:
        """Whether a local minute of the day falls in the band."""
        if self.start_minute <= self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute


@dataclass(frozen=True)
class RateLine:
    """The rate for one station class in one band ('*': any)."""

    station_class: str
    band: str
    basis: str  # per_second | per_play | blanket
    rate_micro_minor: int  # per second on air, per play, or weight per second (blanket)


@dataclass(frozen=True)
class RateCard:
    """One version of a tariff."""

    card_id: int
    code: str
    version: int
    currency: str
    effective_from_ms: int  # UTC
    bands: tuple[Band, ...]
    lines: tuple[RateLine, ...]


@dataclass(frozen=True)
class PlayFacts:
    """What pricing needs of a play."""

    play_id: int
    station_class: str
    start_ms: int  # UTC
    duration_ms: int
    local_minute: int  # minute of the station's local day at the start


@dataclass(frozen=True)
class Price:
    """An amount and everything needed to explain it to an artist or a station."""

    amount_minor: int
    currency: str
    card_id: int
    explanation: dict


def card_in_force(cards: Sequence[RateCard], code: str, at_ms: int) -> RateCard | None:
    """The newest version of tariff `code` effective at `at_ms`."""
    eligible = [c for c in cards if c.code == code and c.effective_from_ms <= at_ms]
    return max(eligible, key=lambda c: (c.effective_from_ms, c.version), default=None)


def band_of(card: RateCard, minute: int) -> str:
    """The name of the first band holding `minute`, or '*' when none does."""
    return next((b.name for b in card.bands if b.holds(minute)), ANY)


def line_for(card: RateCard, station_class: str, band: str) -> RateLine | None:
    """The most specific line: exact class and band, then either one, then '*' for both."""
    for want_class, want_band in (
        (station_class, band),
        (station_class, ANY),
        (ANY, band),
        (ANY, ANY),
    ):
        for line in card.lines:
            if (line.station_class, line.band) == (want_class, want_band):
                return line
    return None


def price_play(card: RateCard, play: PlayFacts) -> Price | None:
    """The play's amount under `card`; None when no line applies or the line is a blanket
    weight (blanket amounts are set when the month's pool is shared out)."""
    band = band_of(card, play.local_minute)
    line = line_for(card, play.station_class, band)
    if line is None or line.basis == BLANKET:
        return None
    if line.basis == PER_SECOND:
        exact = play.duration_ms * line.rate_micro_minor  # in micro-minor milliseconds
        amount = _round_half_even(exact, 1000 * MICRO)
        formula = f"{play.duration_ms} ms x {line.rate_micro_minor} micro-minor/s / 1e9"
    else:
        amount = _round_half_even(line.rate_micro_minor, MICRO)
        formula = f"1 play x {line.rate_micro_minor} micro-minor / 1e6"
    return Price(amount, card.currency, card.card_id, _explain(card, line, band, play, formula))


def blanket_weight(card: RateCard, play: PlayFacts) -> int:
    """The play's weighted seconds (in micro units) for a blanket pool; 0 when not blanket."""
    line = line_for(card, play.station_class, band_of(card, play.local_minute))
    if line is None or line.basis != BLANKET:
        return 0
    return play.duration_ms * line.rate_micro_minor // 1000


def share_blanket(pool_minor: int, weights: dict[int, int]) -> dict[int, int]:
    """A month's pool shared out over plays by weight, exactly (largest remainder)."""
    ids = sorted(i for i, w in weights.items() if w > 0)
    if not ids:
        return {}
    return dict(zip(ids, split_minor(pool_minor, [weights[i] for i in ids])))


def _round_half_even(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return quotient


def _explain(card: RateCard, line: RateLine, band: str, play: PlayFacts, formula: str) -> dict:
    return {
        "rate_card": f"{card.code} v{card.version}",
        "rate_card_id": card.card_id,
        "station_class": play.station_class,
        "band": band,
        "basis": line.basis,
        "rate_micro_minor": line.rate_micro_minor,
        "seconds": round(play.duration_ms / 1000, 3),
        "formula": formula,
        "rounding": "half to even, to whole minor units",
    }
