"""Rights splits: exact integer allocation by largest remainder, and the codes that name works
and recordings (ISWC for a composition, ISRC for a master).

Amounts are integer minor units, split by the ledger's `split_minor` (largest remainder): the
parts always add up to the amount exactly and no part is a unit from its exact share or more.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from central.ledger.money import split_minor

SHARE_BP_TOTAL = 10_000  # shares are in basis points: 10,000 is the whole
SUSPENSE = None  # the owner of a share nobody has claimed yet

_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{2}[0-9]{5}$")
_ISWC = re.compile(r"^T([0-9]{9})([0-9])$")


@dataclass(frozen=True)
class Share:
    """A part of a pool: who (an account code, or SUSPENSE while unclaimed) and how much."""

    owner: str | None
    share_bp: int


def check_shares(shares: Sequence[Share]) -> list[str]:
    """Every problem with a pool's shares: each positive, all adding up to 100 %."""
    problems = [
        f"share of {s.owner or 'suspense'} is {s.share_bp} bp" for s in shares if s.share_bp <= 0
    ]
    total = sum(s.share_bp for s in shares)
    if total != SHARE_BP_TOTAL:
        problems.append(f"shares add up to {total / 100:g} %, not 100 %")
    return problems


def split_pool(amount_minor: int, shares: Sequence[Share]) -> list[tuple[str | None, int]]:
    """A pool's amount shared out; parts of one owner are merged; zero parts are left out."""
    assert not check_shares(shares), check_shares(shares)
    parts: dict[str | None, int] = {}
    for share, part in zip(shares, split_minor(amount_minor, [s.share_bp for s in shares])):
        parts[share.owner] = parts.get(share.owner, 0) + part
    return [(owner, part) for owner, part in parts.items() if part]


def normalize_isrc(code: str) -> str:
    """'GH-A01-26-00001' -> 'GHA012600001'; ValueError unless a well-formed ISRC."""
    compact = code.replace("-", "").strip().upper()
    if not _ISRC.fullmatch(compact):
        raise ValueError(f"{code!r} is no ISRC (CC-XXX-YY-NNNNN: country, registrant, year, id)")
    return compact


def normalize_iswc(code: str) -> str:
    """'T-034.524.680-1' -> 'T0345246801'; ValueError unless well-formed, check digit right."""
    compact = code.replace("-", "").replace(".", "").strip().upper()
    found = _ISWC.fullmatch(compact)
    if not found:
        raise ValueError(f"{code!r} is no ISWC (T-DDD.DDD.DDD-C)")
    expected = iswc_check_digit(found.group(1))
    if int(found.group(2)) != expected:
        raise ValueError(f"{code!r}: ISWC check digit should be {expected}")
    return compact


def iswc_check_digit(digits: str) -> int:
    """The check digit of an ISWC's nine digits (ISO 15707)."""
    weighted = 1 + sum((n + 1) * int(d) for n, d in enumerate(digits))
    return (10 - weighted % 10) % 10
