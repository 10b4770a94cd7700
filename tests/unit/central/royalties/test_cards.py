"""Rate card documents: exact rates from decimals, bands across midnight, every problem at once,
and stored bands and lines that come back as they went in."""

from __future__ import annotations

from central.royalties.cards import (
    bands_json,
    default_card_spec,
    lines_json,
    parse_card,
    stored_card,
)
from central.royalties.tariff import (
    ANY,
    BLANKET,
    PER_PLAY,
    PER_SECOND,
    Band,
    PlayFacts,
    RateLine,
    price_play,
)

DOCUMENT = {
    "code": "broadcast",
    "currency": "GHS",
    "effective_from": "2027-01-01T00:00:00Z",
    "composition_share_bp": 4000,
    "platform_fee_bp": 1000,
    "bands": [
        {"name": "drive", "start": "06:00", "end": "10:00"},
        {"name": "night", "start": "22:00", "end": "05:00"},
        {"name": "evening", "start": "18:00", "end": "24:00"},
    ],
    "lines": [
        {"station_class": "*", "band": "*", "basis": "per_second", "rate": "0.005"},
        {"station_class": "A", "band": "drive", "basis": "per_second", "rate": 0.0125},
        {
            "station_class": "B",
            "band": "night",
            "basis": "per_play",
            "rate_micro_minor": 25_000_000,
        },
        {"station_class": "C", "basis": "blanket", "rate": "1.5"},
    ],
}


def test_a_document_becomes_an_exact_card() -> None:
    """Decimal rates in cedis become exact micro-pesewas; blanket rates are weights; dates ms."""
    spec, problems = parse_card(DOCUMENT)
    assert problems == [] and spec is not None
    assert spec.effective_from_ms == 1_798_761_600_000
    assert (spec.composition_share_bp, spec.platform_fee_bp, spec.version) == (4000, 1000, None)
    assert spec.bands[1] == Band("night", 22 * 60, 5 * 60)
    assert spec.bands[2] == Band("evening", 18 * 60, 1440)
    assert spec.lines == (
        RateLine(ANY, ANY, PER_SECOND, 500_000),
        RateLine("A", "drive", PER_SECOND, 1_250_000),
        RateLine("B", "night", PER_PLAY, 25_000_000),
        RateLine("C", ANY, BLANKET, 1_500_000),
    )


def test_every_problem_is_reported_at_once() -> None:
    """Unknown keys, a bad currency, clock, band, duplicate line and inexact rate all appear."""
    document = {
        **DOCUMENT,
        "colour": "red",
        "currency": "XYZ",
        "platform_fee_bp": 10_001,
        "bands": [{"name": "drive", "start": "6am", "end": "10:00"}],
        "lines": [
            {"band": "*", "basis": "per_second", "rate": "0.0000000001"},
            {"band": "lunch", "basis": "per_second", "rate": "1"},
            {"basis": "per_minute", "rate": "1"},
            {"basis": "per_play", "rate": "1", "rate_micro_minor": 5},
            {"basis": "per_play", "rate": "-1"},
        ],
    }
    spec, problems = parse_card(document)
    assert spec is None
    text = "\n".join(problems)
    for expected in (
        "unknown key 'colour'",
        "currency 'XYZ'",
        "platform_fee_bp 10001",
        "band drive: start and end",
        "line 1: rate '0.0000000001'",
        "line 2: band 'lunch'",
        "line 3: basis 'per_minute'",
        "line 4: give one of rate, rate_micro_minor",
        "line 5: rate '-1'",
    ):
        assert expected in text, text


def test_a_second_line_for_one_class_and_band_is_refused() -> None:
    """Two lines for (A, drive) would make the price depend on their order."""
    lines = [DOCUMENT["lines"][1], {**DOCUMENT["lines"][1], "rate": "0.02"}]
    _, problems = parse_card({**DOCUMENT, "lines": lines})
    assert problems == ["line 2: a second line for class 'A', band 'drive'"]


def test_missing_fields_and_non_objects_are_refused() -> None:
    """A list is no card; a card without code, date or lines says which are missing."""
    assert parse_card([1, 2]) == (None, ["a rate card is a JSON object"])
    _, problems = parse_card({})
    assert problems[:3] == ["missing key 'code'", "missing key 'effective_from'",
                            "missing key 'lines'"]  # fmt: skip


def test_stored_bands_and_lines_come_back_unchanged() -> None:
    """What the store writes as JSON is the card the pricing reads."""
    spec, _ = parse_card(DOCUMENT)
    card = stored_card(7, spec.code, 3, spec.currency, spec.effective_from_ms,
                       bands_json(spec.bands), lines_json(spec.lines))  # fmt: skip
    assert (card.card_id, card.version, card.bands, card.lines) == (7, 3, spec.bands, spec.lines)


def test_the_default_card_charges_half_a_pesewa_a_second_everywhere() -> None:
    """Version 1 of the built-in card: GHS 0.005/s for any class and band, since 1970."""
    spec = default_card_spec("broadcast")
    card = stored_card(1, spec.code, 1, spec.currency, 0, bands_json(spec.bands),
                       lines_json(spec.lines))  # fmt: skip
    price = price_play(card, PlayFacts(1, "Z", 10**12, 60_000, 3 * 60))
    assert (spec.version, spec.effective_from_ms, price.amount_minor) == (1, 0, 30)
