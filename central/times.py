"""Instants as the CLI and API accept them: ISO-8601, epoch milliseconds, or an age ("7d")."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_AGE = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
EPOCH_MS_DIGITS_MIN = 10  # a bare number with fewer digits is no plausible epoch-ms instant


def parse_instant_ms(text: str, now_ms: int) -> int:
    """UTC ms from '2026-11-24T08:00:00Z' (no zone: UTC), '1790000000000', or '12h' (ago).
    ValueError says what was expected."""
    raw = text.strip()
    age = _AGE.match(raw)
    if age:
        return now_ms - int(age.group(1)) * _UNIT_MS[age.group(2)]
    if raw.isdigit() and len(raw) >= EPOCH_MS_DIGITS_MIN:
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{raw!r} is no time: use ISO-8601 (2026-11-24T08:00Z), epoch ms, or an age (30d, 12h)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso_utc(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and a Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
