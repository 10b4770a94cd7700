"""An accrual planned before any I/O: a priced amount split into the legs of one transfer, the
parts kept in suspense, and the explanation an artist or a station can be shown. Pure.

The amount is split in three steps, each by largest remainder (ledger.money.split_minor), so every
step adds up exactly: the platform fee (the card's platform_fee_bp), then the rest into the
composition pool (composition_share_bp) and the master pool, then each pool over its shares.
A share without a party, or a pool with no shares on file, goes to that pool's suspense account
with the work code, so that a claim can release it later. The station pays the whole amount.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from central.ledger.money import split_minor
from central.ledger.transfer import Leg, credit, debit
from central.royalties.rights import COMPOSITION, MASTER, PoolShares, RightsLine
from central.royalties.splits import SHARE_BP_TOTAL
from central.royalties.tariff import BLANKET, PlayFacts, Price, RateCard, band_of, line_for
from central.times import ms_of

PLATFORM_FEES = "platform:fees"
SUSPENSE_ACCOUNTS = {COMPOSITION: "suspense:composition", MASTER: "suspense:master"}
UNKNOWN_OWNER = RightsLine(None, "unknown", SHARE_BP_TOTAL)  # the one share of a pool not on file
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
CALLER_KEY_CHARS_MAX = 100  # a caller's key of a hold, release, void, claim or blanket pool
_CALLER_KEY = re.compile(rf"[\x21-\x7e]{{1,{CALLER_KEY_CHARS_MAX}}}")  # printable, no space


@dataclass(frozen=True)
class SuspensePart:
    """Money of one pool of one play kept in suspense until the work is claimed."""

    pool: str
    work_code: str | None  # None: neither shares nor an ISRC on file
    amount_minor: int


@dataclass(frozen=True)
class Split:
    """The legs of the accrual's transfer (none for a zero amount), what went to suspense, and
    the split part of the explanation."""

    legs: tuple[Leg, ...]
    suspense: tuple[SuspensePart, ...]
    explanation: dict


def station_account(station_code: str) -> str:
    """The code of the account a station pays royalties from."""
    return f"station:{station_code}:wallet"


def split_amount(
    amount_minor: int,
    platform_fee_bp: int,
    composition_share_bp: int,
    pools: Mapping[str, PoolShares],
    fallback_codes: Mapping[str, str | None],
    payer: str,
) -> Split:
    """Split `amount_minor` paid by `payer` (module docstring); `fallback_codes` name the work of
    a pool with no shares on file (e.g. the track's ISRC)."""
    fee_minor, rest_minor = split_minor(
        amount_minor, [platform_fee_bp, SHARE_BP_TOTAL - platform_fee_bp]
    )
    pool_minors = split_minor(
        rest_minor, [composition_share_bp, SHARE_BP_TOTAL - composition_share_bp]
    )
    legs = [debit(payer, amount_minor), credit(PLATFORM_FEES, fee_minor)]
    explanation: dict = {
        "payer": payer,
        "platform_fee": {"share_bp": platform_fee_bp, "amount_minor": fee_minor},
    }
    suspense = []
    for pool, pool_minor, pool_bp in (
        (COMPOSITION, pool_minors[0], composition_share_bp),
        (MASTER, pool_minors[1], SHARE_BP_TOTAL - composition_share_bp),
    ):
        shares = pools.get(pool)
        work_code = shares.work_code if shares else fallback_codes.get(pool)
        pool_legs, held_minor, explanation[pool] = _split_pool(pool, pool_minor, shares, work_code)
        explanation[pool]["share_bp"] = pool_bp
        legs += pool_legs
        if held_minor:
            suspense.append(SuspensePart(pool, work_code, held_minor))
    kept = tuple(leg for leg in legs if leg.amount_minor > 0)
    return Split(kept, tuple(suspense), explanation)


def _split_pool(
    pool: str, pool_minor: int, shares: PoolShares | None, work_code: str | None
) -> tuple[list[Leg], int, dict]:
    """A pool's credits, what of it goes to suspense, and its part of the explanation."""
    lines = shares.lines if shares else (UNKNOWN_OWNER,)
    parts = split_minor(pool_minor, [line.share_bp for line in lines])
    legs = [credit(line.party or SUSPENSE_ACCOUNTS[pool], part) for line, part in zip(lines, parts)]
    held_minor = sum(part for line, part in zip(lines, parts) if line.party is None)
    explanation = {
        "work_code": work_code,
        "amount_minor": pool_minor,
        "shares_on_file": shares is not None,
        "shares": [_share_part(pool, line, part) for line, part in zip(lines, parts)],
    }
    return legs, held_minor, explanation


def _share_part(pool: str, line: RightsLine, part_minor: int) -> dict:
    """One share's line of the explanation."""
    return {
        "party": line.party,
        "account": line.party or SUSPENSE_ACCOUNTS[pool],
        "role": line.role,
        "share_bp": line.share_bp,
        "amount_minor": part_minor,
    }


def transfer_metadata(
    play_id: int, station_code: str, track_external_id: str, explanation: dict,
    suspense: tuple[SuspensePart, ...],
) -> dict:  # fmt: skip
    """What the ledger keeps with the accrual's transfer: the play, the price, the suspense
    parts with their work codes (the same for every run: the transfer's content is its key's)."""
    return {
        "play_id": play_id,
        "station": station_code,
        "track": track_external_id,
        "rate_card": explanation.get("rate_card"),
        "basis": explanation.get("basis"),
        "seconds": explanation.get("seconds"),
        "formula": explanation.get("formula"),
        "suspense": [
            {"pool": s.pool, "work_code": s.work_code, "amount_minor": s.amount_minor}
            for s in suspense
        ],
    }


def blanket_price(
    card: RateCard, play: PlayFacts, part_minor: int, pool_minor: int, weight: int,
    total_weight: int, month: str,
) -> Price:  # fmt: skip
    """The price of a play's part of a month's blanket pool, explained like a per-play price."""
    band = band_of(card, play.local_minute)
    line = line_for(card, play.station_class, band)
    assert line is not None and line.basis == BLANKET, "only plays with blanket weight have a part"
    explanation = {
        "rate_card": f"{card.code} v{card.version}",
        "rate_card_id": card.card_id,
        "station_class": play.station_class,
        "band": band,
        "basis": BLANKET,
        "rate_micro_minor": line.rate_micro_minor,
        "seconds": round(play.duration_ms / 1000, 3),
        "month": month,
        "pool_minor": pool_minor,
        "weight": weight,
        "total_weight": total_weight,
        "formula": f"{pool_minor} minor x {weight} / {total_weight} weighted micro-seconds",
        "rounding": "largest remainder over the month's plays, to whole minor units",
    }
    return Price(part_minor, card.currency, card.card_id, explanation)


def check_timezone(name: str) -> ZoneInfo:
    """The zone of an IANA name (e.g. 'Africa/Accra'); ValueError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {name!r}: an IANA name such as Africa/Accra") from None


def local_minute(at_ms: int, timezone: str) -> int:
    """The minute of the local day in `timezone` at UTC `at_ms`."""
    moment = datetime.fromtimestamp(at_ms // 1000, check_timezone(timezone))
    return moment.hour * 60 + moment.minute


def month_range_ms(month: str, timezone: str) -> tuple[int, int]:
    """[first, next month's first) instant, in UTC ms, of a local month 'YYYY-MM'."""
    found = _MONTH.match(month)
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1970:
        raise ValueError(f"month {month!r}: YYYY-MM, e.g. 2026-09")
    year, number = int(found.group(1)), int(found.group(2))
    zone = check_timezone(timezone)
    first = datetime(year, number, 1, tzinfo=zone)
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return ms_of(first), ms_of(following)


def caller_key_problem(key: object) -> str | None:
    """Why `key` is no caller key (1-100 printable ASCII characters, no spaces), or None."""
    if isinstance(key, str) and _CALLER_KEY.fullmatch(key):
        return None
    return f"key {key!r}: 1-{CALLER_KEY_CHARS_MAX} printable ASCII characters, no spaces"
