"""Decode audio files to mono float32 with ffmpeg, and refuse audio unfit to fingerprint."""

from __future__ import annotations

import math
import subprocess
from os import PathLike
from pathlib import Path

import numpy as np

from edge_agent.errors import DecodeError

MIN_DURATION_S = 3.0  # shorter clips hold too few peaks to identify anything
SILENCE_DBFS_MAX = -60.0  # RMS at or below this (relative to full scale 1.0) counts as silence
FFMPEG = "ffmpeg"


def decode_file(
    path: str | PathLike[str],
    sample_rate_hz: int = 8000,
    duration_s_max: float | None = None,
) -> np.ndarray:
    """Decode `path` to mono float32 at `sample_rate_hz`, at most `duration_s_max` seconds."""
    assert sample_rate_hz > 0, sample_rate_hz
    assert duration_s_max is None or duration_s_max > 0, duration_s_max
    path = Path(path)
    if not path.is_file():
        raise DecodeError(f"{path}: file not found")
    result = _run_ffmpeg(_ffmpeg_command(path, sample_rate_hz, duration_s_max))
    if result.returncode != 0:
        raise DecodeError(f"{path}: corrupt or undecodable: {_last_line(result.stderr)}")
    samples = np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)
    try:
        check_audio(samples, sample_rate_hz)
    except DecodeError as error:
        raise DecodeError(f"{path}: {error}") from None
    return samples


def check_audio(samples: np.ndarray, sample_rate_hz: int) -> None:
    """Raise DecodeError if `samples` are empty, shorter than MIN_DURATION_S, or silent."""
    if samples.size == 0:
        raise DecodeError("empty: no audio samples")
    duration_s = samples.size / sample_rate_hz
    if duration_s < MIN_DURATION_S:
        raise DecodeError(f"too short: {duration_s:.2f} s, need at least {MIN_DURATION_S:g} s")
    level_dbfs = rms_dbfs(samples)
    if level_dbfs <= SILENCE_DBFS_MAX:
        raise DecodeError(f"silent: RMS {level_dbfs:.1f} dBFS, need above {SILENCE_DBFS_MAX:g}")


def rms_dbfs(samples: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (1.0); -inf for digital silence."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0.0 else -math.inf


def _ffmpeg_command(path: Path, sample_rate_hz: int, duration_s_max: float | None) -> list[str]:
    """The ffmpeg argv that writes raw little-endian float32 mono PCM to stdout."""
    command = [FFMPEG, "-nostdin", "-v", "error", "-i", str(path)]
    if duration_s_max is not None:
        command += ["-t", f"{duration_s_max:.6f}"]
    return command + ["-ac", "1", "-ar", str(sample_rate_hz), "-f", "f32le", "-"]


def _run_ffmpeg(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg, turning a missing executable into a DecodeError."""
    try:
        return subprocess.run(command, capture_output=True, check=False)
    except FileNotFoundError:
        raise DecodeError(f"{FFMPEG} not found: install ffmpeg and put it on PATH") from None


def _last_line(stderr: bytes) -> str:
    """The last non-empty line ffmpeg wrote to stderr, or a placeholder when it wrote nothing."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else "ffmpeg failed without a message"
