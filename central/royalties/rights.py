"""Rights shares documents: who owns which part of a track's composition (by ISWC) and master
(by ISRC), checked (every problem reported at once) before anything is stored. Pure.

A document gives one or both pools; a share without a party is unclaimed (its money goes to
suspense until someone claims the work):

    {"composition": {"iswc": "T-034.524.680-1", "shares": [
        {"party": "artist:ama:earnings", "role": "writer", "share_bp": 6000},
        {"party": null, "role": "publisher", "share_bp": 4000}]},
     "master": {"isrc": "GH-A01-26-00001", "shares": [
        {"party": "label:kasa:earnings", "role": "label", "share_bp": 10000}]}}

A party is the code of its earnings account, opened when first credited: `artist:...` as
artist_earnings, `society:...` as society_pool, any other as rights_holder_earnings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from central.royalties.splits import Share, check_shares, normalize_isrc, normalize_iswc

COMPOSITION, MASTER = "composition", "master"
POOLS = (COMPOSITION, MASTER)
WORK_CODE_KEYS = {COMPOSITION: "iswc", MASTER: "isrc"}
ROLES = {COMPOSITION: ("writer", "publisher"), MASTER: ("label", "performer")}
SHARES_PER_POOL_MAX = 40  # two pools of 40, the station, the fee and suspense fit in one transfer
PARTY_CHARS_MAX = 128
PARTY = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:@-]{{0,{PARTY_CHARS_MAX - 1}}}")  # a ledger code
RESERVED_PREFIXES = ("station:", "suspense:", "platform:", "hold:", "settlement:", "payout:")
SHARE_KEYS = {"party", "role", "share_bp"}


@dataclass(frozen=True)
class RightsLine:
    """One share of a pool: its party (an account code, or None while unclaimed) and role."""

    party: str | None
    role: str
    share_bp: int


@dataclass(frozen=True)
class PoolShares:
    """The shares of one pool of a track, on its work code (ISWC or ISRC, normalized)."""

    pool: str
    work_code: str
    lines: tuple[RightsLine, ...]

    def shares(self) -> list[Share]:
        """As splits.Share, for split_pool and split_minor."""
        return [Share(line.party, line.share_bp) for line in self.lines]


def party_kind(party: str) -> str:
    """The ledger kind of a party's earnings account, from its code's prefix."""
    if party.startswith("artist:"):
        return "artist_earnings"
    if party.startswith("society:"):
        return "society_pool"
    return "rights_holder_earnings"


def pool_of_code(code: str) -> tuple[str, str]:
    """(pool, normalized code) of an ISWC or an ISRC; ValueError if it is neither."""
    try:
        return COMPOSITION, normalize_iswc(code)
    except ValueError as iswc_error:
        try:
            return MASTER, normalize_isrc(code)
        except ValueError:
            raise ValueError(f"{code!r} is no ISWC nor ISRC ({iswc_error})") from None


def parse_shares(document: Any) -> tuple[list[PoolShares], list[str]]:
    """The pools of a shares document, or [] and every problem found."""
    if not isinstance(document, Mapping) or not document:
        return [], ["a shares document is a JSON object with composition and/or master"]
    problems = [f"unknown pool {k!r}: composition or master" for k in document if k not in POOLS]
    pools = [_pool(p, document[p], problems) for p in POOLS if p in document]
    if problems:
        return [], problems
    return [p for p in pools if p is not None], []


def _pool(pool: str, raw: Any, problems: list[str]) -> PoolShares | None:
    """One pool: its work code and shares adding up to 100 %."""
    code_key = WORK_CODE_KEYS[pool]
    if not isinstance(raw, Mapping) or set(raw) != {code_key, "shares"}:
        problems.append(f"{pool}: an object with exactly {code_key} and shares")
        return None
    try:
        work_code = (normalize_iswc if pool == COMPOSITION else normalize_isrc)(
            raw[code_key] if isinstance(raw[code_key], str) else repr(raw[code_key])
        )
    except ValueError as error:
        problems.append(f"{pool}: {error}")
        work_code = ""
    found = len(problems)
    items = raw["shares"]
    if not isinstance(items, list) or not 1 <= len(items) <= SHARES_PER_POOL_MAX:
        problems.append(f"{pool}: shares is a list of 1..{SHARES_PER_POOL_MAX} objects")
        return None
    lines = [_line(pool, n, item, problems) for n, item in enumerate(items, start=1)]
    if len(problems) > found:
        return None
    checked = [line for line in lines if line is not None]
    seen = [(line.party, line.role) for line in checked if line.party is not None]
    problems += [
        f"{pool}: {p} is listed twice as {r}" for p, r in set(seen) if seen.count((p, r)) > 1
    ]
    problems += [
        f"{pool}: {p}" for p in check_shares([Share(x.party, x.share_bp) for x in checked])
    ]
    return PoolShares(pool, work_code, tuple(checked)) if work_code else None


def _line(pool: str, n: int, item: Any, problems: list[str]) -> RightsLine | None:
    """One share: a party code or null, a role of the pool, a positive share_bp."""
    where = f"{pool} share {n}"
    if (
        not isinstance(item, Mapping)
        or set(item) - SHARE_KEYS
        or not {"role", "share_bp"} <= set(item)
    ):
        problems.append(f"{where}: an object with role, share_bp and optionally party")
        return None
    party, role, share_bp = item.get("party"), item["role"], item["share_bp"]
    found = len(problems)
    if party is not None and not (isinstance(party, str) and PARTY.fullmatch(party)):
        problems.append(
            f"{where}: party {party!r}: an account code (A-Z a-z 0-9 . _ : @ -) or null"
        )
    elif party is not None and party.startswith(RESERVED_PREFIXES):
        problems.append(f"{where}: party {party!r}: not an earnings account code")
    if role not in ROLES[pool]:
        problems.append(f"{where}: role {role!r}: one of {', '.join(ROLES[pool])}")
    if isinstance(share_bp, bool) or not isinstance(share_bp, int) or share_bp <= 0:
        problems.append(f"{where}: share_bp {share_bp!r}: a whole number of basis points > 0")
    return None if len(problems) > found else RightsLine(party, role, share_bp)
