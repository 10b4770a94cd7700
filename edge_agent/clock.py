"""How far the edge's clock can be trusted: the kernel's NTP state, read with adjtimex(2).

Window start times are UTC ms from the system clock, which NTP (systemd-timesyncd or chrony on
Raspberry Pi OS) disciplines. The kernel knows whether that discipline is working: adjtimex
returns TIME_ERROR while the clock is unsynchronised (a Pi has no RTC, so after a power cut it
boots at the last saved time until NTP answers), and reports the offset it is still slewing away
and its estimated error. Read-only: modes = 0 changes nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

from edge_agent.batch import ClockSyncState

logger = logging.getLogger(__name__)

TIME_ERROR = 5  # adjtimex return value: clock not synchronised
STA_NANO = 0x2000  # status bit: offset is in ns rather than us
ESTERROR_MS_MAX = 500  # an estimated error beyond this counts as unsynced, whatever NTP says


class _Timex(ctypes.Structure):
    """struct timex from <sys/timex.h> (Linux, 64-bit and 32-bit alike: longs and ints)."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


@dataclass(frozen=True)
class ClockStatus:
    """The clock's sync state, the offset NTP is still correcting, and its estimated error."""

    sync_state: ClockSyncState
    offset_ms: int
    esterror_ms: int | None


@functools.cache
def _adjtimex() -> Any:
    """libc's adjtimex, looked up once (find_library runs ldconfig); None where there is none."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).adjtimex
    except (OSError, AttributeError):
        return None


def read_clock_status() -> ClockStatus:
    """The kernel's view of the system clock; UNKNOWN where adjtimex is unavailable."""
    adjtimex = _adjtimex()
    if adjtimex is None:
        return ClockStatus(ClockSyncState.UNKNOWN, 0, None)
    timex = _Timex()
    state = adjtimex(ctypes.byref(timex))
    if state < 0:
        logger.debug("adjtimex failed: errno %d", ctypes.get_errno())
        return ClockStatus(ClockSyncState.UNKNOWN, 0, None)
    return interpret(state, timex.offset, timex.status, timex.esterror)


def interpret(state: int, offset: int, status: int, esterror_us: int) -> ClockStatus:
    """ClockStatus from adjtimex's return value and fields (pure, for tests)."""
    offset_ms = round(offset / (1_000_000 if status & STA_NANO else 1000))
    esterror_ms = round(esterror_us / 1000)
    synced = state != TIME_ERROR and esterror_ms <= ESTERROR_MS_MAX
    sync_state = ClockSyncState.SYNCED if synced else ClockSyncState.UNSYNCED
    return ClockStatus(sync_state, offset_ms, esterror_ms)


def now_ms() -> int:
    """UTC milliseconds from the system clock."""
    return time.time_ns() // 1_000_000
