"""Instants: as the CLI and API accept them (ISO-8601, epoch milliseconds, or an age like "7d"),
as they are shown (ISO-8601 UTC with a Z), and as stored (aware datetimes; SQLite hands back
naive ones, which are UTC)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_AGE = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
INSTANT_MS_MAX = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last a datetime holds
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
        return parse_iso_ms(raw)
    except ValueError:
        raise ValueError(
            f"{raw!r} is no time: use ISO-8601 (2026-11-24T08:00Z), epoch ms, or an age (30d, 12h)"
        ) from None


def parse_iso_ms(text: str) -> int:
    """UTC ms from ISO-8601 ('Z' or an offset; none: UTC); ValueError if it is not."""
    return ms_of(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one (as SQLite returns them) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def ms_of(moment: datetime) -> int:
    """UTC milliseconds since the epoch (a naive datetime is UTC)."""
    return round(as_utc(moment).timestamp() * 1000)


def now_ms() -> int:
    """The current time in UTC milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def at_ms(ms: int) -> datetime:
    """UTC milliseconds as an aware datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso_utc(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and a Z."""
    return at_ms(ms).isoformat(timespec="milliseconds")[:-6] + "Z"


def iso_datetime(moment: datetime | None) -> str | None:
    """A stored datetime as ISO-8601 UTC with milliseconds and a Z; None stays None."""
    return None if moment is None else as_utc(moment).isoformat(timespec="milliseconds")[:-6] + "Z"
