"""Pure generation of DJ talk: random radio sentences and espeak-ng voice settings from a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOICES = (
    "en+m3",
    "en-us+f2",
    "en-gb-scotland+m1",
    "en-029+f4",
    "en-us+m7",
    "en+f3",
    "en-gb-x-rp+m2",
)
WORDS_PER_MIN_RANGE = (140, 200)
PITCH_RANGE = (30, 70)
SENTENCE_PAUSE_S = 0.35  # espeak-ng's pause after a full stop, roughly

STATIONS = ("Zamio FM", "Radio Gold", "Sunrise Radio", "City Ninety Eight", "Joy Waves")
CITIES = ("Accra", "Kumasi", "Tamale", "Takoradi", "Cape Coast", "Ho", "Sunyani", "Koforidua")
WEATHER = ("sunny spells", "light showers", "heavy rain", "clear skies", "a warm breeze")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ROADS = ("Ring Road", "Spintex Road", "Tema Motorway", "Liberation Road", "Kanda Highway")
NAMES = ("Kofi", "Ama", "Yaw", "Akosua", "Kwame", "Efua", "Kojo", "Abena")
PRODUCTS = (
    "Golden Tree chocolate",
    "Sunshine mobile data",
    "Mama's kitchen jollof",
    "Blue Star soap",
)
TEMPLATES = (
    "You are listening to {station}, broadcasting live from {city}.",
    "It is {hour} o'clock on this lovely {day} and the music keeps on playing.",
    "Weather for {city} today: {weather}, with a high of {temp} degrees.",
    "Traffic on the {road} is slow this evening, so stay with us while you wait.",
    "A big shout out to {name} in {city}, this next one is for you.",
    "Call us on {phone} and tell us what you want to hear.",
    "Coming up after the news, more of your favourite songs back to back.",
    "Try {product} today, available in every shop in {city}.",
    "That was a classic, and there is plenty more where that came from.",
    "Stay tuned, {name} is joining us in the studio at {hour} o'clock.",
    "The number one station in {city}, this is {station}.",
    "Don't touch that dial, we will be right back after this.",
)


@dataclass(frozen=True)
class Speech:
    """What espeak-ng says and how: text, voice, speed, pitch and level over music (dB)."""

    text: str
    voice: str
    words_per_min: int
    pitch: int
    level_db: float = 0.0  # speech-to-music RMS ratio when talking over music


def sentence(rng: np.random.Generator) -> str:
    """Return one random radio sentence."""
    template = TEMPLATES[rng.integers(len(TEMPLATES))]
    fields = {
        "station": _pick(rng, STATIONS),
        "city": _pick(rng, CITIES),
        "weather": _pick(rng, WEATHER),
        "day": _pick(rng, DAYS),
        "road": _pick(rng, ROADS),
        "name": _pick(rng, NAMES),
        "product": _pick(rng, PRODUCTS),
        "hour": int(rng.integers(1, 13)),
        "temp": int(rng.integers(22, 36)),
        "phone": " ".join(str(d) for d in rng.integers(0, 10, size=7)),
    }
    return template.format(**fields)


def speech(rng: np.random.Generator, duration_s: float, level_db: float = 0.0) -> Speech:
    """Return random talk whose estimated spoken length reaches `duration_s`."""
    voice = _pick(rng, VOICES)
    words_per_min = int(rng.integers(WORDS_PER_MIN_RANGE[0], WORDS_PER_MIN_RANGE[1] + 1))
    pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
    sentences: list[str] = []
    while estimated_duration_s(sentences, words_per_min) < duration_s:
        sentences.append(sentence(rng))
    return Speech(" ".join(sentences), voice, words_per_min, pitch, level_db)


def estimated_duration_s(sentences: list[str], words_per_min: int) -> float:
    """Return roughly how long espeak-ng takes to say `sentences` at `words_per_min`."""
    word_count = sum(len(s.split()) for s in sentences)
    return word_count * 60.0 / words_per_min + SENTENCE_PAUSE_S * len(sentences)


def _pick(rng: np.random.Generator, choices: tuple[str, ...]) -> str:
    """Return one of `choices` at random."""
    return choices[int(rng.integers(len(choices)))]
