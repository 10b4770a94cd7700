"""The broadcast channel: effects on the whole mix (compression, low-pass, noise, phone, MP3)."""

from __future__ import annotations

import logging

import numpy as np
import scipy.signal

from bench import audio
from bench.programme import Channel

logger = logging.getLogger(__name__)

# The "FM radio broadcast" chain from the sox manual (mcompand): five bands split at 100, 400,
# 1600 and 6400 Hz, each squashed hard towards -30 dB, then made up by 12 dB.
MCOMPAND = [
    "mcompand",
    "0.005,0.1 -47,-40,-34,-34,-17,-33", "100",
    "0.003,0.05 -47,-40,-34,-34,-17,-33", "400",
    "0.000625,0.0125 -47,-40,-34,-34,-15,-33", "1600",
    "0.0001,0.025 -47,-40,-34,-34,-31,-31,-0,-30", "6400",
    "0,0.025 -38,-31,-28,-28,-0,-25",
    "gain", "12",
]  # fmt: skip
COMPRESS_INPUT_PEAK = 0.5  # headroom before mcompand, which sox would clip at 1.0
PHONE_BAND_HZ = (300, 3400)
PHONE_LINE_RATE_HZ = 8000
PHONE_TRANSITION_HZ = 100  # sinc transition band: steep skirts, as a telephone channel
# Paul Kellet's "economy" pinking filter: -3 dB per octave within 0.05 dB from 9 Hz up.
PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])


def apply_channel(
    samples: np.ndarray, channel: Channel, sample_rate_hz: int, rng: np.random.Generator
) -> np.ndarray:
    """Return `samples` after each effect of `channel`, in the order of its fields."""
    if channel.compress:
        samples = compress(samples, sample_rate_hz)
    if channel.lowpass_hz is not None:
        samples = lowpass(samples, sample_rate_hz, channel.lowpass_hz)
    if channel.noise_snr_db is not None:
        samples = add_pink_noise(samples, channel.noise_snr_db, rng)
    if channel.phone:
        samples = phone(samples, sample_rate_hz)
    if channel.mp3_kbps is not None:
        samples = audio.mp3_round_trip(samples, sample_rate_hz, channel.mp3_kbps)
    return samples


def compress(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Return `samples` through FM-style multiband compression."""
    scaled = scale_to_peak(samples, COMPRESS_INPUT_PEAK)
    return audio.fit_length(audio.sox(scaled, sample_rate_hz, MCOMPAND), len(samples))


def lowpass(samples: np.ndarray, sample_rate_hz: int, cutoff_hz: float) -> np.ndarray:
    """Return `samples` low-passed at `cutoff_hz`; a no-op when that is above the Nyquist rate."""
    if cutoff_hz >= sample_rate_hz / 2:
        logger.debug(
            "channel: low-pass at %s Hz skipped at %s Hz sampling", cutoff_hz, sample_rate_hz
        )
        return samples
    filtered = audio.sox(samples, sample_rate_hz, ["sinc", f"-{cutoff_hz:g}"])
    return audio.fit_length(filtered, len(samples))


def phone(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Return `samples` band-passed to 300-3400 Hz through an 8 kHz line, back at the input rate."""
    band = f"{PHONE_BAND_HZ[0]}-{PHONE_BAND_HZ[1]}"
    effects = ["sinc", "-t", str(PHONE_TRANSITION_HZ), band, "rate", "-v", str(PHONE_LINE_RATE_HZ)]
    effects += ["rate", "-v", str(sample_rate_hz)]
    return audio.fit_length(audio.sox(samples, sample_rate_hz, effects), len(samples))


def add_pink_noise(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Return `samples` plus pink noise `snr_db` below the RMS of the whole of `samples`."""
    noise = pink_noise(len(samples), rng)
    noise_rms = rms(samples) / 10.0 ** (snr_db / 20.0)
    return (samples + noise * noise_rms).astype(np.float32)


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """Return `length` samples of pink noise with unit RMS."""
    white = rng.standard_normal(length)
    pink = scipy.signal.lfilter(PINK_B, PINK_A, white)
    return (pink / max(rms(pink), 1e-12)).astype(np.float32)


def rms(samples: np.ndarray) -> float:
    """Return the root mean square of `samples` (0.0 when empty)."""
    if len(samples) == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def scale_to_peak(samples: np.ndarray, peak: float) -> np.ndarray:
    """Return `samples` scaled so their absolute peak is `peak` (silence stays silence)."""
    current = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if current == 0.0:
        return samples
    return (samples * (peak / current)).astype(np.float32)
