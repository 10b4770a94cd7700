"""Analysis of one reference file: decode, hash the PCM, fingerprint; runs in worker processes.

A track must carry enough fingerprint information to be identified on air: at least
DISTINCT_HASHES_PER_S_MIN distinct REFERENCE hashes per second of audio. Synthesised music and
speech give 17-40 per second (the demo's 5 s songs about 18); a pure tone repeats the same few
landmarks (a 5 s 440 Hz sine: 4.4 per second, 30 s of it: 0.7), a jingle of bare tones none.
Such audio is refused as `too_few_landmarks`: it would match anything tonal, or nothing.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xxhash

from edge_agent.decode import TRACK_DURATION_S_MAX, decode_file
from edge_agent.errors import DecodeError
from edge_agent.fingerprint import REFERENCE, SAMPLE_RATE_HZ, Fingerprints, fingerprint

DISTINCT_HASHES_PER_S_MIN = 8.0  # below: a tone or a hum, not identifiable (module docstring)
TOO_FEW_LANDMARKS = "too_few_landmarks"


@dataclass(frozen=True)
class Analysis:
    """What the catalogue stores about one decoded file."""

    duration_ms: int
    content_hash: str  # xxh64 hex of the decoded PCM (float32 LE, mono, 8 kHz)
    fingerprints: Fingerprints


def analyse_samples(samples: np.ndarray) -> Analysis:
    """Content hash and reference fingerprints of mono float32 samples at SAMPLE_RATE_HZ."""
    return Analysis(
        duration_ms=round(samples.size * 1000 / SAMPLE_RATE_HZ),
        content_hash=content_hash(samples),
        fingerprints=fingerprint(samples, REFERENCE),
    )


def content_hash(samples: np.ndarray) -> str:
    """xxh64 hex digest of the samples as float32 little-endian bytes."""
    return xxhash.xxh64_hexdigest(samples.astype("<f4", copy=False).tobytes())


def analyse_file(path: Path) -> Analysis | str:
    """The Analysis of the file at `path`, or the reason it cannot be registered."""
    try:
        samples = decode_file(path, SAMPLE_RATE_HZ, duration_s_max=TRACK_DURATION_S_MAX)
    except DecodeError as error:
        return str(error)
    analysis = analyse_samples(samples)
    problem = landmark_problem(analysis.fingerprints, analysis.duration_ms)
    return f"{path}: {problem}" if problem else analysis


def landmark_problem(fingerprints: Fingerprints, duration_ms: int) -> str | None:
    """Why reference `fingerprints` of `duration_ms` of audio cannot identify it, or None."""
    assert duration_ms > 0, duration_ms
    per_s = len(np.unique(fingerprints.hashes)) * 1000 / duration_ms
    if per_s >= DISTINCT_HASHES_PER_S_MIN:
        return None
    return (
        f"{TOO_FEW_LANDMARKS}: {per_s:.1f} distinct hashes per second, need at least"
        f" {DISTINCT_HASHES_PER_S_MIN:g} (a pure tone or a hum is not identifiable music)"
    )


def analyse_files(paths: Iterable[Path], workers: int) -> Iterator[Analysis | str]:
    """analyse_file over `paths` in order, in `workers` processes (1: in this process)."""
    assert workers >= 1, workers
    if workers == 1:
        yield from map(analyse_file, paths)
        return
    # spawn, not fork: children must not inherit the parent's database connections or locks.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(analyse_file, paths)
