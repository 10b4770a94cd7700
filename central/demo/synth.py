"""Audio made from a seed (pure numpy/scipy), at 8 kHz: music, a presenter, a jingle, and what
radio does to them (played fast, talked over, noise).

The demo's catalogue and broadcast, and the tests, are built from these, so they need no
recordings and are the same on every machine.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from edge_agent.fingerprint import SAMPLE_RATE_HZ

BEAT_S = 0.25


def song(seed: int, duration_s: float, beat_s: float = BEAT_S) -> np.ndarray:
    """Seeded music-like audio at 8 kHz: harmonic chords, a bass line and percussion, a beat
    every `beat_s` (songs of one tempo share a beat grid, and so some chance matches)."""
    rng = np.random.default_rng(seed)
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


def jingle(seed: int, duration_s: float) -> np.ndarray:
    """A station ident: a rising arpeggio of bell tones."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * SAMPLE_RATE_HZ)
    out = np.zeros(n)
    root = int(rng.integers(60, 72))
    step = max(n // 6, 1)
    for k, interval in enumerate((0, 4, 7, 12, 16, 19)):
        start = k * step
        t = np.arange(n - start) / SAMPLE_RATE_HZ
        f0 = 440.0 * 2 ** ((root + interval - 69) / 12)
        out[start:] += np.sin(2 * np.pi * f0 * t) * np.exp(-t / 0.6)
    return (0.4 * out / np.max(np.abs(out))).astype(np.float32)


def played_fast(samples: np.ndarray, speed_ratio: float) -> np.ndarray:
    """`samples` played `speed_ratio` times as fast, pitch and all, as a station's playout does
    to fit a clock (1.02: 2 % fast, 2 % shorter)."""
    up, down = int(round(1000 / speed_ratio)), 1000
    return signal.resample_poly(samples, up, down).astype(np.float32)
