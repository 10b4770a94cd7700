"""The demo's catalogue and its station's broadcast, with the ground truth (pure).

A broadcast is a list of Segments: presenter talk, jingles, registered songs (some played fast,
some talked over, one too briefly to count) and a song nobody registered. `render` joins their
audio and says when each song was on air, so the demo can check its play log against what was
actually broadcast.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from central.demo import synth
from central.plays.aggregate import PLAY_S_MIN
from central.royalties.splits import iswc_check_digit
from edge_agent.fingerprint import SAMPLE_RATE_HZ

STATION = "demo-fm"
STATION_NAME = "Demo FM 101.1"
DEVICE = "demo-pi"
NOISE_SNR_DB = 30.0  # the transmitter chain's hiss, below the programme
TRACK_S = 90.0  # length of a synthesised catalogue track
UNREGISTERED_BEAT_S = 0.3  # another tempo than the catalogue's, as another song would have
LABEL = "label:adomi-records:earnings"
PUBLISHER = "publisher:gold-coast-music:earnings"


@dataclass(frozen=True)
class DemoTrack:
    """A catalogue entry with its rights: the artist writes (70 %) and performs (40 %)."""

    external_id: str
    title: str
    artist: str
    isrc: str
    iswc: str
    path: Path | None = None  # your own file; None: synthesised into the demo's folder

    @property
    def artist_account(self) -> str:
        """The artist's earnings account."""
        return f"artist:{slug(self.artist)}:earnings"

    def shares(self) -> dict:
        """Its shares document (as `zamio royalty shares set` takes it)."""
        return {
            "composition": {"iswc": self.iswc, "shares": [
                {"party": self.artist_account, "role": "writer", "share_bp": 7000},
                {"party": PUBLISHER, "role": "publisher", "share_bp": 3000}]},
            "master": {"isrc": self.isrc, "shares": [
                {"party": LABEL, "role": "label", "share_bp": 6000},
                {"party": self.artist_account, "role": "performer", "share_bp": 4000}]},
        }  # fmt: skip


@dataclass(frozen=True)
class Segment:
    """A stretch of the broadcast: `kind` is song, speech or jingle; a song names its track
    (None: a song nobody registered), where in it the station started, how fast it played, and
    how long the presenter talked over its start."""

    kind: str
    seconds: float
    track: str | None = None
    offset_s: float = 0.0
    speed_ratio: float = 1.0
    talk_over_s: float = 0.0


@dataclass(frozen=True)
class Aired:
    """A registered song on air, in seconds from the start of the broadcast."""

    track: str
    start_s: float
    end_s: float

    @property
    def counts(self) -> bool:
        """Long enough to be a play."""
        return self.end_s - self.start_s >= PLAY_S_MIN


SYNTH_CATALOGUE = (
    DemoTrack("zd-001", "Sunrise Highlife", "Ama Serwaa", "GH-ZD1-26-00001", "T-100.000.001-9"),
    DemoTrack("zd-002", "Kumasi Nights", "Kofi Mensah", "GH-ZD1-26-00002", "T-100.000.002-0"),
    DemoTrack("zd-003", "Harmattan Breeze", "Efua Nyarko", "GH-ZD1-26-00003", "T-100.000.003-1"),
    DemoTrack("zd-004", "Volta Groove", "Ama Serwaa", "GH-ZD1-26-00004", "T-100.000.004-2"),
    DemoTrack("zd-005", "Coastline", "Kofi Mensah", "GH-ZD1-26-00005", "T-100.000.005-3"),
)


def broadcast_plan(tracks: Sequence[str], unregistered: bool) -> tuple[Segment, ...]:
    """About four minutes of radio from the first four `tracks`: talk; a song from its start;
    an ident; a song played 2 % fast; talk; an unregistered song; 20 s of a song (too short to
    count); an ident; a song with the presenter over its intro."""
    a, b, c, d = (list(tracks) * 4)[:4]
    plan = [
        Segment("speech", 10.0),
        Segment("song", 60.0, a),
        Segment("jingle", 5.0),
        Segment("song", 50.0, b, offset_s=10.0, speed_ratio=1.02),
        Segment("speech", 8.0),
    ]
    if unregistered:
        plan.append(Segment("song", 30.0, None, offset_s=20.0))
    plan += [
        Segment("song", 20.0, c, offset_s=30.0),
        Segment("jingle", 5.0),
        Segment("song", 60.0, d, talk_over_s=8.0),
    ]
    return tuple(plan)


def render(
    plan: Sequence[Segment],
    audio: Mapping[str | None, np.ndarray],
    seed: int,
) -> tuple[np.ndarray, list[Aired]]:
    """The broadcast's samples (8 kHz) and when each registered song was on air. `audio` maps
    track ids (None: the unregistered song) to their samples; a track shorter than its segment
    is played from wherever it still fits."""
    pieces, aired, at_s = [], [], 0.0
    for n, segment in enumerate(plan):
        piece = _segment_audio(segment, audio, seed + n)
        pieces.append(piece)
        seconds = len(piece) / SAMPLE_RATE_HZ
        if segment.kind == "song" and segment.track is not None:
            aired.append(Aired(segment.track, round(at_s, 3), round(at_s + seconds, 3)))
        at_s += seconds
    samples = synth.pink_noise(np.concatenate(pieces), NOISE_SNR_DB, seed)
    return (0.9 * samples / np.max(np.abs(samples))).astype(np.float32), aired


def _segment_audio(
    segment: Segment, audio: Mapping[str | None, np.ndarray], seed: int
) -> np.ndarray:
    """One segment's samples, `segment.seconds` long (a song shorter than that, shorter)."""
    n = int(segment.seconds * SAMPLE_RATE_HZ)
    if segment.kind == "speech":
        return synth.speech(segment.seconds, seed)
    if segment.kind == "jingle":
        return synth.jingle(seed, segment.seconds)
    track = audio[segment.track]
    wanted = int(np.ceil(n * segment.speed_ratio))
    start = min(int(segment.offset_s * SAMPLE_RATE_HZ), max(len(track) - wanted, 0))
    piece = track[start : start + wanted]
    if segment.speed_ratio != 1.0:
        piece = synth.played_fast(piece, segment.speed_ratio)
    piece = piece[:n] / max(float(np.max(np.abs(piece[:n]))), 1e-9) * 0.5
    talk = int(segment.talk_over_s * SAMPLE_RATE_HZ)
    if talk:
        piece[:talk] = synth.talk_over(piece[:talk], seed, speech_db=0.0)
    return piece.astype(np.float32)


def synth_audio(catalogue: Sequence[DemoTrack], seed: int) -> dict[str | None, np.ndarray]:
    """Each synthesised track's audio, and an unregistered song's (key None)."""
    audio: dict[str | None, np.ndarray] = {
        t.external_id: synth.song(seed + n, TRACK_S) for n, t in enumerate(catalogue)
    }
    audio[None] = synth.song(seed + 1000, TRACK_S, beat_s=UNREGISTERED_BEAT_S)
    return audio


def music_catalogue(paths: Sequence[Path]) -> list[DemoTrack]:
    """Catalogue entries for your own files: 'Artist - Title' file names give both, others are
    by 'Unknown Artist'; each gets demo ISRC and ISWC codes (well-formed, but nobody's)."""
    tracks = []
    for n, path in enumerate(paths, start=1):
        artist, _, title = path.stem.partition(" - ")
        if not title.strip():
            artist, title = "Unknown Artist", path.stem
        iswc = f"T-200.000.{n:03d}-{iswc_check_digit(f'200000{n:03d}')}"
        tracks.append(DemoTrack(f"music-{n:03d}", title.strip(), artist.strip(),
                                f"GH-ZD2-26-{n:05d}", iswc, path))  # fmt: skip
    return tracks


def slug(text: str) -> str:
    """'Ama Serwaa' -> 'ama-serwaa': a piece of an account code."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"
