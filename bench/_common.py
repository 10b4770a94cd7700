"""Helpers shared by the benchmarks: plain-text tables, percentiles, timing, memory, streaming."""

from __future__ import annotations

import ctypes
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from edge_agent.fingerprint import (
    SAMPLE_RATE_HZ,
    FingerprintParams,
    Fingerprints,
    fingerprint_in_chunks,
)

CHUNK_S = 1.0  # the agent feeds capture to the fingerprinter in 1 s chunks
T = TypeVar("T")


def pct(values: list[float] | np.ndarray, q: float) -> float:
    """The q-th percentile, NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def table(title: str, headers: list[str], rows: list[list[object]]) -> str:
    """A plain-text table, columns right-aligned apart from the first."""
    cells = [headers] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [title]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(headers))]
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in
                 enumerate(zip(row, widths))]  # fmt: skip
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) or value == ""


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def rss_mb() -> dict[str, float]:
    """Current and peak RSS of this process in MB.

    Peak is VmHWM, the high-water mark of this process image. getrusage's ru_maxrss is reported
    too, but Linux carries it across fork and exec, so in a spawned child it starts at the
    parent's RSS at the time of the fork.
    """
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {
        "rss_mb": int(status["VmRSS"].split()[0]) / 1024,
        "peak_rss_mb": int(status["VmHWM"].split()[0]) / 1024,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def stream(samples: np.ndarray, params: FingerprintParams) -> tuple[Fingerprints, int]:
    """Feed 1 s chunks, as the agent does: (hashes, frames seen)."""
    return fingerprint_in_chunks(samples, params, int(CHUNK_S * SAMPLE_RATE_HZ))


def timed(function: Callable[..., T], *args: object) -> tuple[T, float, float]:
    """(function(*args), wall seconds, CPU seconds of this thread)."""
    wall, cpu = time.perf_counter(), time.thread_time()
    out = function(*args)
    return out, time.perf_counter() - wall, time.thread_time() - cpu


def trimmed_rss_mb() -> float:
    """RSS after glibc returns freed heap to the system (what build_index leaves behind)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return float("nan")
    return rss_mb()["rss_mb"]
