"""Broadcast degradations for tests, on 8 kHz float32 signals: numpy/scipy, ffmpeg where needed."""

from __future__ import annotations

import subprocess

import numpy as np
from scipy import signal

from central.demo.synth import pink_noise, song, speech, talk_over
from central.demo.synth import played_fast as speed
from edge_agent.fingerprint import SAMPLE_RATE_HZ

# Synthesis and the degradations radio itself applies live in central.demo.synth (the demo
# builds its broadcast from them); the ones only tests need are below.
__all__ = [
    "compress",
    "mp3",
    "phone",
    "pink_noise",
    "song",
    "speech",
    "speed",
    "talk_over",
    "tempo",
]


def tempo(samples: np.ndarray, ratio: float) -> np.ndarray:
    """Tempo-only change (pitch kept) through ffmpeg's atempo (WSOLA)."""
    return _ffmpeg(samples, ["-af", f"atempo={ratio}"])


def mp3(samples: np.ndarray, bitrate: str = "48k") -> np.ndarray:
    """Round trip through an MP3 encoder at `bitrate`."""
    encoded = _pipe(samples.astype(np.float32).tobytes(), _F32_IN, ["-b:a", bitrate, "-f", "mp3"])
    decoded = _pipe(encoded, ["-f", "mp3"], ["-ac", "1", "-ar", str(SAMPLE_RATE_HZ), "-f", "f32le"])
    return np.frombuffer(decoded, np.float32).copy()


def phone(samples: np.ndarray) -> np.ndarray:
    """A telephone line: 300-3400 Hz band-pass, steep."""
    sos = signal.butter(8, [300, 3400], btype="bandpass", fs=SAMPLE_RATE_HZ, output="sos")
    return signal.sosfilt(sos, samples).astype(np.float32)


def compress(samples: np.ndarray, bands_hz=(250, 1000, 2500)) -> np.ndarray:
    """Multiband compression: each band's envelope squashed 4:1 above -30 dB, then summed."""
    edges = [0.0, *bands_hz, SAMPLE_RATE_HZ / 2]
    out = np.zeros_like(samples, dtype=np.float64)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if lo == 0:
            sos = signal.butter(4, hi, btype="lowpass", fs=SAMPLE_RATE_HZ, output="sos")
        elif hi >= SAMPLE_RATE_HZ / 2:
            sos = signal.butter(4, lo, btype="highpass", fs=SAMPLE_RATE_HZ, output="sos")
        else:
            sos = signal.butter(4, [lo, hi], btype="bandpass", fs=SAMPLE_RATE_HZ, output="sos")
        band = signal.sosfilt(sos, samples)
        env = signal.sosfilt(signal.butter(1, 20, fs=SAMPLE_RATE_HZ, output="sos"), np.abs(band))
        level_db = 20 * np.log10(np.maximum(env, 1e-6))
        gain_db = np.where(level_db > -30, (level_db + 30) * (1 / 4 - 1), 0.0)
        out += band * 10 ** (gain_db / 20)
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)


_F32_IN = ["-f", "f32le", "-ar", str(SAMPLE_RATE_HZ), "-ac", "1"]


def _ffmpeg(samples: np.ndarray, args: list[str]) -> np.ndarray:
    """Run 8 kHz float32 samples through an ffmpeg filter chain."""
    out = _pipe(samples.astype(np.float32).tobytes(), _F32_IN, [*args, "-f", "f32le"])
    return np.frombuffer(out, np.float32).copy()


def _pipe(data: bytes, input_args: list[str], output_args: list[str]) -> bytes:
    """ffmpeg from standard input to standard output."""
    command = ["ffmpeg", "-v", "error", *input_args, "-i", "-", *output_args, "-"]
    return subprocess.run(command, input=data, capture_output=True, check=True).stdout
