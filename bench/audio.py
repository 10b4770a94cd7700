"""Audio I/O for the simulator: ffmpeg, sox and espeak-ng via subprocess, mono float32 arrays."""

from __future__ import annotations

import logging
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from bench.dj import Speech
from bench.errors import ToolError

logger = logging.getLogger(__name__)

STDERR_TAIL_CHARS_MAX = 2000
FFMPEG = ("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error")


def run(command: list[str], input_bytes: bytes | None = None) -> bytes:
    """Run `command` on `input_bytes`; return its stdout, or raise ToolError with its stderr."""
    try:
        done = subprocess.run(command, input=input_bytes, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise ToolError(f"{command[0]}: not installed") from exc
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace")[-STDERR_TAIL_CHARS_MAX:]
        raise ToolError(f"{command[0]} exited with {done.returncode}: {stderr.strip()}")
    return done.stdout


def decode_segment(
    path: str,
    start_s: float,
    duration_s: float,
    sample_rate_hz: int,
    speed_ratio: float = 1.0,
    tempo_ratio: float = 1.0,
) -> np.ndarray:
    """Decode `duration_s` source seconds of `path` from `start_s`, resampled and/or stretched."""
    filters = ["aformat=channel_layouts=mono", f"aresample={sample_rate_hz}"]
    if speed_ratio != 1.0:  # radio style: play the samples faster, pitch and tempo together
        filters += [
            f"asetrate={round(sample_rate_hz * speed_ratio)}",
            f"aresample={sample_rate_hz}",
        ]
    if tempo_ratio != 1.0:
        filters.append(f"atempo={tempo_ratio:.6f}")
    command = [*FFMPEG, "-ss", f"{start_s:.6f}", "-t", f"{duration_s:.6f}", "-i", path]
    command += ["-af", ",".join(filters), "-ac", "1", "-f", "f32le", "pipe:1"]
    return np.frombuffer(run(command), dtype="<f4").copy()


def decode_bytes(data: bytes, sample_rate_hz: int) -> np.ndarray:
    """Decode an audio file held in memory to mono float32 at `sample_rate_hz`."""
    command = [*FFMPEG, "-i", "pipe:0", "-ac", "1", "-ar", str(sample_rate_hz), "-f", "f32le"]
    return np.frombuffer(run([*command, "pipe:1"], data), dtype="<f4").copy()


def synthesize(speech: Speech, sample_rate_hz: int) -> np.ndarray:
    """Say `speech` with espeak-ng; return mono float32 at `sample_rate_hz`."""
    command = ["espeak-ng", "-v", speech.voice, "-s", str(speech.words_per_min)]
    command += ["-p", str(speech.pitch), "--stdout", speech.text]
    return decode_bytes(run(command), sample_rate_hz)


def sox(samples: np.ndarray, sample_rate_hz: int, effects: list[str]) -> np.ndarray:
    """Run `samples` through a sox effects chain; the output keeps `sample_rate_hz`."""
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(sample_rate_hz)]
    command = ["sox", "-V1", *raw, "-", *raw, "-", *effects]
    output = run(command, np.ascontiguousarray(samples, dtype="<f4").tobytes())
    return np.frombuffer(output, dtype="<f4").copy()


def mp3_round_trip(samples: np.ndarray, sample_rate_hz: int, kbps: int) -> np.ndarray:
    """Encode `samples` to MP3 at `kbps` and decode them back (through a file, for gapless trim)."""
    raw = ["-f", "f32le", "-ar", str(sample_rate_hz), "-ac", "1", "-i", "pipe:0"]
    with tempfile.TemporaryDirectory(prefix="zamio-bench-") as tmp:
        mp3_path = str(Path(tmp) / "channel.mp3")
        encode = [*FFMPEG, *raw, "-c:a", "libmp3lame", "-b:a", f"{kbps}k", mp3_path]
        run(encode, np.ascontiguousarray(samples, dtype="<f4").tobytes())
        decode = [*FFMPEG, "-i", mp3_path, "-ac", "1", "-ar", str(sample_rate_hz), "-f", "f32le"]
        decoded = np.frombuffer(run([*decode, "pipe:1"]), dtype="<f4")
    return fit_length(decoded, len(samples))


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Return `samples` cut or zero-padded to exactly `length`."""
    if len(samples) >= length:
        return samples[:length].copy()
    return np.concatenate([samples, np.zeros(length - len(samples), dtype=samples.dtype)])


def write_flac(path: Path, samples: np.ndarray, sample_rate_hz: int) -> None:
    """Write mono 16-bit FLAC atomically (through a temporary name)."""
    partial = path.with_name(path.name + ".part")
    soundfile.write(partial, samples, sample_rate_hz, format="FLAC", subtype="PCM_16")
    partial.replace(path)
