"""Test audio made from a seed: random chords over noise, silence, and files that are not audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

SAMPLE_RATE_HZ = 22050  # unlike the 8 kHz of fingerprinting, so decoding must resample
CHORD_S = 0.5
CHORD_NOTES = 3
NOISE_LEVEL = 0.02


def chords(seed: int, duration_s: float, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Mono float32: a new random chord every CHORD_S seconds over quiet noise, peak 0.5."""
    rng = np.random.default_rng(seed)
    chord_samples = int(CHORD_S * sample_rate_hz)
    chord_count = int(np.ceil(duration_s / CHORD_S))
    t = np.arange(chord_samples) / sample_rate_hz
    envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # 10 ms fades, no clicks
    pieces = []
    for _ in range(chord_count):
        freqs_hz = rng.uniform(220.0, 3000.0, CHORD_NOTES)
        tone = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in freqs_hz)
        pieces.append(envelope * tone)
    signal = np.concatenate(pieces)[: int(duration_s * sample_rate_hz)]
    signal = signal + NOISE_LEVEL * rng.standard_normal(signal.size)
    return (0.5 * signal / np.max(np.abs(signal))).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> Path:
    """Write `samples` as 16-bit PCM WAV (mono, or stereo for 2-D input) and return the path."""
    soundfile.write(str(path), samples, sample_rate_hz, subtype="PCM_16")
    return path


def chord_wav(path: Path, seed: int, duration_s: float = 8.0) -> Path:
    """A WAV of `chords(seed, duration_s)`."""
    return write_wav(path, chords(seed, duration_s))


def silent_wav(path: Path, duration_s: float = 5.0) -> Path:
    """A WAV of digital silence."""
    return write_wav(path, np.zeros(int(duration_s * SAMPLE_RATE_HZ), np.float32))


def corrupt_file(path: Path, seed: int, size_bytes: int = 4096) -> Path:
    """A file of random bytes that no decoder accepts."""
    path.write_bytes(np.random.default_rng(seed).bytes(size_bytes))
    return path


def write_manifest(path: Path, tracks: list[dict[str, object]]) -> Path:
    """Write a JSON catalogue manifest {"tracks": tracks} and return its path."""
    path.write_text(json.dumps({"tracks": tracks}), encoding="utf-8")
    return path
