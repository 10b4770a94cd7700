"""An accrual planned before I/O: the legs add up to the station's debit exactly, unknown owners
and missing pools go to suspense with their work code, local time and months by time zone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central.ledger.transfer import CREDIT, DEBIT, Leg
from central.royalties.accrual import (
    PLATFORM_FEES,
    SuspensePart,
    blanket_price,
    caller_key_problem,
    local_minute,
    month_range_ms,
    split_amount,
    station_account,
)
from central.royalties.rights import COMPOSITION, MASTER, PoolShares, RightsLine
from central.royalties.tariff import ANY, BLANKET, PlayFacts, RateCard, RateLine

PAYER = station_account("joy-fm")
COMPOSITION_SHARES = PoolShares(
    COMPOSITION, "T0345246801",
    (RightsLine("artist:ama:earnings", "writer", 6000), RightsLine(None, "publisher", 4000)),
)  # fmt: skip
NO_CODES = {COMPOSITION: None, MASTER: None}


def test_fee_then_pools_then_shares_each_exact() -> None:
    """GHS 1.01: fee 10 % is 10, composition half of 91 is 46 (largest remainder), master 45;
    the writer's 60 % of 46 is 28, the unclaimed publisher's 18 goes to suspense."""
    split = split_amount(101, 1000, 5000, {COMPOSITION: COMPOSITION_SHARES},
                         {MASTER: "GHA012600001"}, PAYER)  # fmt: skip
    assert split.legs == (
        Leg(PAYER, DEBIT, 101),
        Leg(PLATFORM_FEES, CREDIT, 10),
        Leg("artist:ama:earnings", CREDIT, 28),
        Leg("suspense:composition", CREDIT, 18),
        Leg("suspense:master", CREDIT, 45),
    )
    assert split.suspense == (
        SuspensePart(COMPOSITION, "T0345246801", 18),
        SuspensePart(MASTER, "GHA012600001", 45),
    )
    assert split.explanation["master"]["shares_on_file"] is False
    assert split.explanation["composition"]["shares"][0]["amount_minor"] == 28


def test_a_zero_amount_moves_nothing() -> None:
    """A play priced at 0 has no legs and nothing in suspense."""
    split = split_amount(0, 1000, 5000, {}, NO_CODES, PAYER)
    assert split.legs == () and split.suspense == ()


@given(
    amount_minor=st.integers(0, 10**9),
    fee_bp=st.integers(0, 10_000),
    composition_bp=st.integers(0, 10_000),
    writer_bps=st.lists(st.integers(1, 1999), min_size=1, max_size=5),
    unclaimed=st.booleans(),
)
def test_credits_always_add_up_to_the_station_debit(
    amount_minor: int, fee_bp: int, composition_bp: int, writer_bps: list[int], unclaimed: bool
) -> None:
    """Whatever the card and shares, credits equal the debit equal the amount, none zero, and
    suspense holds exactly what its credits say."""
    lines = [RightsLine(f"artist:{n}:earnings", "writer", bp) for n, bp in enumerate(writer_bps)]
    last = None if unclaimed else "artist:x:earnings"
    lines.append(RightsLine(last, "publisher", 10_000 - sum(writer_bps)))
    pools = {COMPOSITION: PoolShares(COMPOSITION, "T0345246801", tuple(lines))}
    split = split_amount(amount_minor, fee_bp, composition_bp, pools, NO_CODES, PAYER)
    debits = sum(leg.amount_minor for leg in split.legs if leg.side == DEBIT)
    credits = sum(leg.amount_minor for leg in split.legs if leg.side == CREDIT)
    assert debits == credits == amount_minor
    assert all(leg.amount_minor > 0 for leg in split.legs)
    in_suspense = sum(leg.amount_minor for leg in split.legs if leg.account.startswith("suspense:"))
    assert in_suspense == sum(part.amount_minor for part in split.suspense)


def test_local_minute_follows_the_station_zone() -> None:
    """08:30 UTC is 08:30 in Accra, 09:30 in Lagos, and 09:30 in London in summer."""
    at_ms = 1_788_251_400_000  # 2026-09-01T08:30:00Z
    assert local_minute(at_ms, "Africa/Accra") == 8 * 60 + 30
    assert local_minute(at_ms, "Africa/Lagos") == 9 * 60 + 30
    assert local_minute(at_ms, "Europe/London") == 9 * 60 + 30
    with pytest.raises(ValueError, match="IANA name"):
        local_minute(at_ms, "Mars/Olympus")


def test_a_month_is_local_to_the_station() -> None:
    """September 2026 in Lagos starts at 23:00 UTC on 31 August; December runs to January."""
    first_ms, end_ms = month_range_ms("2026-09", "Africa/Lagos")
    assert first_ms == 1_788_220_800_000 - 3_600_000
    assert end_ms - first_ms == 30 * 86_400_000
    assert month_range_ms("2026-12", "Africa/Accra")[1] == 1_798_761_600_000
    for bad in ("2026-13", "2026-9", "26-09", "1969-12"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_range_ms(bad, "Africa/Accra")


def test_a_blanket_part_is_explained_with_its_pool_and_weights() -> None:
    """The part, the pool and both weights are in the explanation, under the card's band."""
    card = RateCard(4, "broadcast", 2, "GHS", 0, (), (RateLine(ANY, ANY, BLANKET, 1_000_000),))
    price = blanket_price(card, PlayFacts(9, "C", 0, 30_000, 600), 250, 1000, 30, 120, "2026-09")
    assert price.amount_minor == 250 and price.card_id == 4
    assert price.explanation["formula"] == "1000 minor x 30 / 120 weighted micro-seconds"
    assert (price.explanation["basis"], price.explanation["month"]) == (BLANKET, "2026-09")


def test_caller_keys_are_printable_without_spaces() -> None:
    """A key with a space, an empty key or one of 101 characters is refused."""
    assert caller_key_problem("dispute-17") is None
    for bad in ("two words", "", "x" * 101, None):
        assert caller_key_problem(bad) is not None
