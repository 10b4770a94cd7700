"""Broadcast degradations for tests, on 8 kHz float32 signals: numpy/scipy, ffmpeg where needed."""

from __future__ import annotations

import subprocess

import numpy as np
from scipy import signal

from edge_agent.fingerprint import SAMPLE_RATE_HZ


def speed(samples: np.ndarray, ratio: float) -> np.ndarray:
    """Play `ratio` times faster by resampling: pitch and tempo together, as radio does."""
    up, down = int(round(1000 / ratio)), 1000
    return signal.resample_poly(samples, up, down).astype(np.float32)


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


def pink_noise(samples: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """Add pink noise at `snr_db` below the signal's RMS."""
    rng = np.random.default_rng(seed)
    white = np.fft.rfft(rng.standard_normal(len(samples)))
    white /= np.sqrt(np.maximum(np.arange(len(white)), 1))
    noise = np.fft.irfft(white, len(samples))
    noise *= np.sqrt(np.mean(samples**2)) / np.sqrt(np.mean(noise**2)) * 10 ** (-snr_db / 20)
    return (samples + noise).astype(np.float32)


def speech(duration_s: float, seed: int) -> np.ndarray:
    """A talking voice stand-in: a gliding glottal pulse train through moving formants."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t) + 10 * rng.standard_normal() * t / duration_s
    pulses = signal.sawtooth(2 * np.pi * np.cumsum(f0) / SAMPLE_RATE_HZ)
    voice = np.zeros(n)
    for centre_hz in (rng.uniform(500, 800), rng.uniform(1100, 1800), rng.uniform(2300, 2900)):
        sos = signal.butter(
            2,
            [centre_hz * 0.85, centre_hz * 1.15],
            btype="bandpass",
            fs=SAMPLE_RATE_HZ,
            output="sos",
        )
        voice += signal.sosfilt(sos, pulses)
    syllables = 0.5 * (1 + np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)))
    return (voice * syllables / np.max(np.abs(voice))).astype(np.float32)


def talk_over(music: np.ndarray, seed: int, speech_db: float = 0.0) -> np.ndarray:
    """Speech mixed over music at `speech_db` relative to the music's RMS."""
    voice = speech(len(music) / SAMPLE_RATE_HZ, seed)
    scale = np.sqrt(np.mean(music**2) / np.mean(voice**2)) * 10 ** (speech_db / 20)
    return (music + scale * voice).astype(np.float32)


_F32_IN = ["-f", "f32le", "-ar", str(SAMPLE_RATE_HZ), "-ac", "1"]


def _ffmpeg(samples: np.ndarray, args: list[str]) -> np.ndarray:
    """Run 8 kHz float32 samples through an ffmpeg filter chain."""
    out = _pipe(samples.astype(np.float32).tobytes(), _F32_IN, [*args, "-f", "f32le"])
    return np.frombuffer(out, np.float32).copy()


def _pipe(data: bytes, input_args: list[str], output_args: list[str]) -> bytes:
    """ffmpeg from standard input to standard output."""
    command = ["ffmpeg", "-v", "error", *input_args, "-i", "-", *output_args, "-"]
    return subprocess.run(command, input=data, capture_output=True, check=True).stdout


def song(seed: int, duration_s: float) -> np.ndarray:
    """Seeded music-like audio at 8 kHz: harmonic chords, a bass line and percussion."""
    rng = np.random.default_rng(seed)
    beat_s = 0.25
    beat_samples = int(beat_s * SAMPLE_RATE_HZ)
    t = np.arange(beat_samples) / SAMPLE_RATE_HZ
    decay = np.exp(-t / 0.2)
    pieces = []
    chord = rng.integers(48, 72, 3)
    for beat in range(int(np.ceil(duration_s / beat_s))):
        if beat % 8 == 0:
            chord = rng.integers(48, 72, 3)  # MIDI notes, a new chord every two seconds
        melody = int(rng.integers(60, 84))
        notes = [*chord.tolist(), melody, int(chord[0]) - 12]
        tone = np.zeros(beat_samples)
        for note in notes:
            f0 = 440.0 * 2 ** ((note - 69) / 12)
            for k in range(1, 5):
                if k * f0 < SAMPLE_RATE_HZ / 2:
                    tone += np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) / k
        hit = rng.standard_normal(beat_samples) * np.exp(-t / 0.03) * (beat % 2 == 0)
        pieces.append(tone * decay + 0.5 * hit)
    signal_ = np.concatenate(pieces)[: int(duration_s * SAMPLE_RATE_HZ)]
    return (0.5 * signal_ / np.max(np.abs(signal_))).astype(np.float32)
