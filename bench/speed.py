"""Speed benchmark: fingerprinting x real time, upload bytes per station-hour, query latency and
index memory as the catalogue grows. Prints tables; never asserts timings.

    python bench/speed.py [--sections fingerprint,upload,query] [--tracks N] [--repeats R]
                          [--sizes 61,1000,3000,10000] [--out /tmp/zamio-bench/speed.json]

1. fingerprint: every corpus track is decoded once (ffmpeg, timed), then fingerprinted from memory
   on one pinned core, streamed in 1 s chunks as the agent does and whole as the catalogue does,
   with QUERY and REFERENCE params, `--repeats` times.
2. upload: the QUERY hashes of each track cut into 320-frame batches and encoded for the wire.
3. query: real 10 s query windows (clean, and played 3 % fast through ffmpeg) against an index of
   the real tracks plus synthetic references. A synthetic track resamples real REFERENCE hash
   values with replacement, at a real track's hash density and a real track's duration: a two-fold
   check on real music (printed) shows that this reproduces the collision counts of unseen real
   music, while re-randomising low-order hash bits makes collisions rarer than real ones. Each
   catalogue size runs in a fresh process, so its peak RSS is its own; synthetic tracks are made
   inside the `entries` generator, so only the index itself is ever held.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: one core means one BLAS thread too

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import audio  # noqa: E402
from central.matching import matcher  # noqa: E402
from central.matching.index import MatchIndex, TrackRef, build_index  # noqa: E402
from edge_agent.batch import (  # noqa: E402
    HASHES_PER_BATCH_MAX,
    WINDOW_FRAMES,
    BatchSource,
    ClockSyncState,
    batches_from_fingerprints,
    encode_batch,
)
from edge_agent.decode import decode_file  # noqa: E402
from edge_agent.fingerprint import (  # noqa: E402
    FINGERPRINT_VERSION,
    FRAME_MS,
    HOP_SAMPLES,
    QUERY,
    REFERENCE,
    SAMPLE_RATE_HZ,
    FingerprintParams,
    Fingerprints,
    StreamingFingerprinter,
    fingerprint,
)

CATALOGUE = Path("/var/tmp/zamio-corpus/catalogue.json")
OUT = Path("/tmp/zamio-bench/speed.json")
SECTIONS = ("fingerprint", "upload", "query")
CHUNK_S = 1.0  # the agent feeds capture in 1 s chunks
MODES = (("QUERY", "1 s chunks"), ("REFERENCE", "1 s chunks"), ("QUERY", "whole"),
         ("REFERENCE", "whole"))  # fmt: skip
PARAMS = {"QUERY": QUERY, "REFERENCE": REFERENCE}
DEVICE_ID, SOURCE_ID, STATION_ID = "pi-0001", "fm-101.5", "st-0001"
TOPIC = f"stations/{STATION_ID}/devices/{DEVICE_ID}/batches"
STREAM_START_MS = 1_700_000_000_000
EXCERPTS_PER_TRACK = 2
LEAD_FRAMES = 64  # query excerpts start 2 s before their window, as mid-stream batches do
TAIL_FRAMES = 64
SPEEDS = (1.0, 1.03)
OFFSET_TOLERANCE_FRAMES = 16  # a match "at the right place" is within 0.5 s of the truth
SYNTHETIC_TRACK_ID_FIRST = 1_000_000
SEED = 20240601


# ---------------------------------------------------------------------------------------------
# Helpers


def pct(values: list[float] | np.ndarray, q: float) -> float:
    """The q-th percentile, NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def table(title: str, headers: list[str], rows: list[list[object]]) -> str:
    """A plain-text table, columns right-aligned apart from the first."""
    cells = [headers] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [title]
    for n, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB."""
    status = Path("/proc/self/status").read_text()
    current_kb = next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return current_kb / 1024, peak_kb / 1024


def stream(samples: np.ndarray, params: FingerprintParams) -> tuple[Fingerprints, int]:
    """Feed 1 s chunks to a StreamingFingerprinter, as the agent does: (hashes, frame end)."""
    engine = StreamingFingerprinter(params)
    step = int(CHUNK_S * SAMPLE_RATE_HZ)
    parts = [engine.feed(samples[i : i + step]) for i in range(0, len(samples), step)]
    parts.append(engine.flush())
    prints = Fingerprints.concat(parts)
    frame_end = engine.frames_total
    if len(prints):
        frame_end = max(frame_end, int(prints.anchor_frames.max()) + 1)
    return prints, frame_end


# ---------------------------------------------------------------------------------------------
# The corpus pass: decode each track once, time fingerprinting, cut query excerpts


@dataclass
class TrackResult:
    """What one corpus track contributes to every section."""

    track_id: int
    external_id: str
    title: str
    path: str
    duration_s: float
    decode_s: float
    times_s: dict[str, list[float]]  # mode label -> wall seconds per repeat
    query: Fingerprints  # QUERY, streamed
    query_frame_end: int
    reference: Fingerprints
    queries: list[dict]  # 10 s query windows cut from this track


def mode_label(params_name: str, feeding: str) -> str:
    """'QUERY / 1 s chunks'."""
    return f"{params_name} / {feeding}"


def corpus_pass(tracks: list[dict], repeats: int, rng: np.random.Generator) -> list[TrackResult]:
    """Decode, fingerprint (timed) and cut query windows, one track in memory at a time."""
    results = []
    for number, track in enumerate(tracks):
        started = time.perf_counter()
        samples = decode_file(track["path"], sample_rate_hz=SAMPLE_RATE_HZ)
        decode_s = time.perf_counter() - started
        times: dict[str, list[float]] = {mode_label(*m): [] for m in MODES}
        outputs: dict[str, tuple[Fingerprints, int]] = {}
        for _ in range(repeats):
            for params_name, feeding in MODES:
                started = time.perf_counter()
                if feeding == "whole":
                    out = (fingerprint(samples, PARAMS[params_name]), 0)
                else:
                    out = stream(samples, PARAMS[params_name])
                times[mode_label(params_name, feeding)].append(time.perf_counter() - started)
                outputs.setdefault(mode_label(params_name, feeding), out)
        query, frame_end = outputs[mode_label("QUERY", "1 s chunks")]
        result = TrackResult(
            number + 1, track["id"], track["title"], track["path"],
            len(samples) / SAMPLE_RATE_HZ, decode_s, times, query, frame_end,
            outputs[mode_label("REFERENCE", "1 s chunks")][0], [],
        )  # fmt: skip
        result.queries = cut_queries(result, samples, rng)
        results.append(result)
        print(f"  {number + 1}/{len(tracks)} {track['title'][:40]}", end="\r", file=sys.stderr)
    print(file=sys.stderr)
    return results


def cut_queries(track: TrackResult, samples: np.ndarray, rng: np.random.Generator) -> list[dict]:
    """Query windows at random places: clean from memory, sped up by ffmpeg from the file."""
    span_s = (LEAD_FRAMES + WINDOW_FRAMES + TAIL_FRAMES) * FRAME_MS / 1000
    queries = []
    for _ in range(EXCERPTS_PER_TRACK):
        start = int(rng.integers(0, len(samples) - int(max(SPEEDS) * span_s * SAMPLE_RATE_HZ)))
        for speed in SPEEDS:
            if speed == 1.0:
                excerpt = samples[start : start + int(span_s * SAMPLE_RATE_HZ)]
            else:  # radio style: the samples play faster, pitch and tempo together
                start_s, source_s = start / SAMPLE_RATE_HZ, span_s * speed
                excerpt = audio.decode_segment(track.path, start_s, source_s, SAMPLE_RATE_HZ, speed)
            window = query_window(excerpt)
            # Excerpt frame q holds source frame start / HOP + speed * q.
            queries.append({"track_id": track.track_id, "speed": speed, "hashes": window.hashes,
                            "anchors": window.anchor_frames,
                            "ref_frame_at_0": start / HOP_SAMPLES})  # fmt: skip
    return queries


def query_window(excerpt: np.ndarray) -> Fingerprints:
    """The one 320-frame batch after the lead-in of a streamed excerpt, as central receives it."""
    prints, _ = stream(excerpt, QUERY)
    lo, hi = LEAD_FRAMES, LEAD_FRAMES + WINDOW_FRAMES
    keep = (prints.anchor_frames >= lo) & (prints.anchor_frames < hi)
    source = BatchSource(DEVICE_ID, SOURCE_ID, FINGERPRINT_VERSION, STREAM_START_MS)
    inside = Fingerprints(prints.hashes[keep], prints.anchor_frames[keep])
    (batch,) = batches_from_fingerprints(
        inside, WINDOW_FRAMES, source=source, frame_start=lo, frame_end=hi
    )
    return Fingerprints(batch.hashes, batch.anchor_frames)
