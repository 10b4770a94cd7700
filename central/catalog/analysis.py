"""Analysis of one reference file: decode, hash the PCM, fingerprint; runs in worker processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xxhash

from edge_agent.decode import decode_file
from edge_agent.errors import DecodeError
from edge_agent.fingerprint import REFERENCE, SAMPLE_RATE_HZ, Fingerprints, fingerprint


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
        samples = decode_file(path, sample_rate_hz=SAMPLE_RATE_HZ)
    except DecodeError as error:
        return str(error)
    analysis = analyse_samples(samples)
    if len(analysis.fingerprints) == 0:
        return f"{path}: no fingerprints: the audio has no distinct spectral peaks"
    return analysis


def analyse_files(paths: Iterable[Path], workers: int) -> Iterator[Analysis | str]:
    """analyse_file over `paths` in order, in `workers` processes (1: in this process)."""
    assert workers >= 1, workers
    if workers == 1:
        yield from map(analyse_file, paths)
        return
    # spawn, not fork: children must not inherit the parent's database connections or locks.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(analyse_file, paths)
