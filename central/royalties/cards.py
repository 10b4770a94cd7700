"""Rate card documents: the JSON `zamio royalty ratecard add` reads, checked (every problem
reported at once) and made into a `CardSpec`; stored bands and lines back to a `RateCard`; the
built-in default card. Pure.

A document (rates as `rate` in major units, e.g. "0.005" GHS per second, or `rate_micro_minor`;
a blanket line's `rate` is its relative weight per second):

    {"code": "broadcast", "currency": "GHS", "effective_from": "2027-01-01T00:00:00Z",
     "composition_share_bp": 5000, "platform_fee_bp": 1000,
     "bands": [{"name": "drive", "start": "06:00", "end": "10:00"}],
     "lines": [{"station_class": "*", "band": "*", "basis": "per_second", "rate": "0.005"},
               {"station_class": "A", "band": "drive", "basis": "per_second", "rate": "0.01"}]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from central.ledger.money import CURRENCY_EXPONENTS, DEFAULT_CURRENCY
from central.royalties.splits import SHARE_BP_TOTAL
from central.royalties.tariff import (
    ANY,
    BASES,
    BLANKET,
    DEFAULT_RATE_MICRO_MINOR_PER_S,
    MICRO,
    PER_SECOND,
    Band,
    RateCard,
    RateLine,
)
from central.times import parse_iso_ms

DEFAULT_TARIFF_CODE = "broadcast"
DEFAULT_COMPOSITION_SHARE_BP = 5000  # the composition pool's part of each amount (the rest: master)
DEFAULT_PLATFORM_FEE_BP = 0  # the built-in card takes no fee: a fee is a business decision
BANDS_MAX = 48
LINES_MAX = 1000
RATE_MICRO_MINOR_MAX = 10**12  # 10,000 GHS per second or per play
CODE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")  # band names and station classes
_CLOCK = re.compile(r"^([0-9]{2}):([0-9]{2})$")
DOCUMENT_KEYS = {"code", "version", "currency", "effective_from", "composition_share_bp",
                 "platform_fee_bp", "bands", "lines"}  # fmt: skip
BAND_KEYS = {"name", "start", "end"}
LINE_KEYS = {"station_class", "band", "basis", "rate", "rate_micro_minor"}


@dataclass(frozen=True)
class CardSpec:
    """A checked rate card, not yet stored (version None: the next one)."""

    code: str
    version: int | None
    currency: str
    effective_from_ms: int
    bands: tuple[Band, ...]
    lines: tuple[RateLine, ...]
    composition_share_bp: int
    platform_fee_bp: int


def default_card_spec(code: str = DEFAULT_TARIFF_CODE) -> CardSpec:
    """The built-in card: GHS 0.005 per second for every class and band, since forever."""
    line = RateLine(ANY, ANY, PER_SECOND, DEFAULT_RATE_MICRO_MINOR_PER_S)
    return CardSpec(
        code, 1, DEFAULT_CURRENCY, 0, (), (line,), DEFAULT_COMPOSITION_SHARE_BP,
        DEFAULT_PLATFORM_FEE_BP,
    )  # fmt: skip


def parse_card(document: Any) -> tuple[CardSpec | None, list[str]]:
    """A CardSpec from a loaded JSON document, or None and every problem found."""
    if not isinstance(document, Mapping):
        return None, ["a rate card is a JSON object"]
    problems = [f"unknown key {k!r}" for k in sorted(set(document) - DOCUMENT_KEYS, key=str)]
    problems += [f"missing key {k!r}" for k in ("code", "effective_from", "lines")
                 if k not in document]  # fmt: skip
    code = document.get("code")
    if "code" in document and not (isinstance(code, str) and CODE.fullmatch(code)):
        problems.append(f"code {code!r}: 1-32 of a-z 0-9 _ . -, starting with a letter or digit")
    version = document.get("version")
    if version is not None and (_not_int(version) or version < 1):
        problems.append(f"version {version!r}: a whole number from 1")
    currency = document.get("currency", DEFAULT_CURRENCY)
    if currency not in CURRENCY_EXPONENTS:
        problems.append(f"currency {currency!r}: one of {', '.join(sorted(CURRENCY_EXPONENTS))}")
        currency = DEFAULT_CURRENCY
    from_ms = _instant_ms(document.get("effective_from", 0), problems)
    composition_bp = _bp(document, "composition_share_bp", DEFAULT_COMPOSITION_SHARE_BP, problems)
    fee_bp = _bp(document, "platform_fee_bp", DEFAULT_PLATFORM_FEE_BP, problems)
    bands = _bands(document.get("bands", []), problems)
    lines = _lines(document.get("lines", []), {b.name for b in bands}, currency, problems)
    if problems:
        return None, problems
    return CardSpec(code, version, currency, from_ms, bands, lines, composition_bp, fee_bp), []


def _not_int(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


def _bp(document: Mapping, key: str, default: int, problems: list[str]) -> int:
    """A basis-point field, 0..10,000."""
    value = document.get(key, default)
    if _not_int(value) or not 0 <= value <= SHARE_BP_TOTAL:
        problems.append(f"{key} {value!r}: a whole number of basis points, 0..{SHARE_BP_TOTAL}")
        return default
    return value


def _instant_ms(value: Any, problems: list[str]) -> int:
    """UTC ms from epoch ms or ISO-8601 (no zone: UTC), not before 1970."""
    if not _not_int(value) and value >= 0:
        return value
    try:
        instant_ms = parse_iso_ms(str(value))
    except ValueError:
        problems.append(f"effective_from {value!r}: ISO-8601 (2027-01-01T00:00:00Z) or epoch ms")
        return 0
    if instant_ms < 0:
        problems.append(f"effective_from {value!r}: not before 1970")
        return 0
    return instant_ms


def _bands(raw: Any, problems: list[str]) -> tuple[Band, ...]:
    """Bands of the local day; names unique; start != end (a band may wrap midnight)."""
    if not isinstance(raw, list) or len(raw) > BANDS_MAX:
        problems.append(f"bands: a list of at most {BANDS_MAX} objects")
        return ()
    bands: list[Band] = []
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping) or set(item) != BAND_KEYS:
            problems.append(f"band {n}: an object with exactly name, start, end")
            continue
        name = item["name"]
        start, end = _minute(item["start"], False), _minute(item["end"], True)
        if not (isinstance(name, str) and NAME.fullmatch(name)) or name in [b.name for b in bands]:
            problems.append(f"band {n}: name {name!r} is not a new name of A-Z a-z 0-9 _ . -")
        elif start is None or end is None or start == end:
            problems.append(f"band {name}: start and end are two different HH:MM (end up to 24:00)")
        else:
            bands.append(Band(name, start, end))
    return tuple(bands)


def _minute(text: Any, is_end: bool) -> int | None:
    """Minute of the day from 'HH:MM'; '24:00' only as an end."""
    found = _CLOCK.match(text) if isinstance(text, str) else None
    if not found:
        return None
    hours, minutes = int(found.group(1)), int(found.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not is_end)):
        return None
    return hours * 60 + minutes


def _lines(
    raw: Any, band_names: set[str], currency: str, problems: list[str]
) -> tuple[RateLine, ...]:
    """Rate lines: known basis and band, one per (class, band), a rate that is exact."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= LINES_MAX:
        problems.append(f"lines: a list of 1..{LINES_MAX} objects")
        return ()
    lines: list[RateLine] = []
    for n, item in enumerate(raw, start=1):
        line = _line(n, item, band_names, currency, problems)
        if line is None:
            continue
        if any((x.station_class, x.band) == (line.station_class, line.band) for x in lines):
            problems.append(f"line {n}: a second line for class {line.station_class!r}, band"
                            f" {line.band!r}")  # fmt: skip
            continue
        lines.append(line)
    return tuple(lines)


def _line(
    n: int, item: Any, band_names: set[str], currency: str, problems: list[str]
) -> RateLine | None:
    """One rate line, or None with its problems appended."""
    if not isinstance(item, Mapping) or set(item) - LINE_KEYS:
        problems.append(f"line {n}: an object with keys among {', '.join(sorted(LINE_KEYS))}")
        return None
    station_class, band = item.get("station_class", ANY), item.get("band", ANY)
    basis = item.get("basis")
    found = len(problems)
    if station_class != ANY and not (
        isinstance(station_class, str) and NAME.fullmatch(station_class)
    ):
        problems.append(f"line {n}: station_class {station_class!r}: '*' or a class name")
    if band != ANY and band not in band_names:
        problems.append(f"line {n}: band {band!r} is not '*' or a band of the card")
    if basis not in BASES:
        problems.append(f"line {n}: basis {basis!r}: one of {', '.join(BASES)}")
    rate = _rate(n, item, basis, currency, problems)
    if len(problems) > found or rate is None:
        return None
    return RateLine(station_class, band, basis, rate)


def _rate(n: int, item: Mapping, basis: Any, currency: str, problems: list[str]) -> int | None:
    """rate_micro_minor, from itself or from `rate` (major units, or a weight for blankets)."""
    if ("rate" in item) == ("rate_micro_minor" in item):
        problems.append(f"line {n}: give one of rate, rate_micro_minor")
        return None
    if "rate_micro_minor" in item:
        value = item["rate_micro_minor"]
        exact = None if _not_int(value) else Decimal(value)
    else:
        scale = MICRO if basis == BLANKET else MICRO * 10 ** CURRENCY_EXPONENTS[currency]
        exact = _decimal(item["rate"])
        exact = None if exact is None else exact * scale
    if (
        exact is None
        or exact != exact.to_integral_value()
        or not 0 <= exact <= RATE_MICRO_MINOR_MAX
    ):
        problems.append(
            f"line {n}: rate {item.get('rate', item.get('rate_micro_minor'))!r}: a number >= 0"
            " exact to a millionth of a minor unit"
        )
        return None
    return int(exact)


def _decimal(value: Any) -> Decimal | None:
    """A Decimal from a JSON number or a decimal string; floats by their shortest repr."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        found = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def bands_json(bands: tuple[Band, ...]) -> str:
    """Bands as stored."""
    return json.dumps([{"name": b.name, "start_minute": b.start_minute,
                        "end_minute": b.end_minute} for b in bands])  # fmt: skip


def lines_json(lines: tuple[RateLine, ...]) -> str:
    """Lines as stored."""
    return json.dumps([{"station_class": x.station_class, "band": x.band, "basis": x.basis,
                        "rate_micro_minor": x.rate_micro_minor} for x in lines])  # fmt: skip


def stored_card(
    card_id: int, code: str, version: int, currency: str, effective_from_ms: int,
    stored_bands: str, stored_lines: str,
) -> RateCard:  # fmt: skip
    """A RateCard from its stored fields."""
    bands = tuple(Band(b["name"], b["start_minute"], b["end_minute"])
                  for b in json.loads(stored_bands))  # fmt: skip
    lines = tuple(RateLine(x["station_class"], x["band"], x["basis"], x["rate_micro_minor"])
                  for x in json.loads(stored_lines))  # fmt: skip
    return RateCard(card_id, code, version, currency, effective_from_ms, bands, lines)
