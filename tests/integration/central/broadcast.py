"""Shared by central's integration tests: a catalogue of seeded songs, a station with a device,
and a broadcast cut into the agent's batches and ingested as if from the broker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from flask import Flask
from sqlalchemy import select, update

from central.catalog.store import register_track
from central.extensions import db
from central.ingest.models import IngestedBatch
from central.ingest.store import DUPLICATE, STORED, ingest_payload
from central.stations import store as stations
from edge_agent.batch import BatchSource, batches_from_fingerprints, encode_batch
from edge_agent.fingerprint import (
    FINGERPRINT_VERSION,
    REFERENCE,
    SAMPLE_RATE_HZ,
    fingerprint,
    fingerprint_in_chunks,
)
from tests.transforms import song

STATION = "joy-fm"
DEVICE = "pi-01"
TOPIC = f"stations/{STATION}/devices/{DEVICE}/batches"
START_MS = 1_790_000_000_000


def register_songs(app: Flask, seeds: dict[str, int], duration_s: float) -> dict[str, int]:
    """Register song(seed) under each name; the station joy-fm with device pi-01. Name -> id."""
    ids = {}
    with app.app_context():
        for name, seed in seeds.items():
            track = register_track(
                db.session,
                external_id=name,
                title=f"Song {name}",
                artist=None,
                isrc=None,
                duration_ms=int(duration_s * 1000),
                content_hash=f"{seed:016x}",
                fingerprints=fingerprint(song(seed, duration_s), REFERENCE),
                fingerprint_version=FINGERPRINT_VERSION,
            )
            ids[name] = track.id
        stations.add_station(db.session, STATION, "Joy FM")
        stations.add_device(db.session, DEVICE, STATION)
        db.session.commit()
    return ids


@dataclass(frozen=True)
class Segment:
    """`seconds` of song(seed) from its top, on air from `at_s` of the broadcast."""

    seed: int
    at_s: float
    seconds: float


def broadcast(segments: list[Segment], total_s: float) -> np.ndarray:
    """Audio of the segments laid on a quiet floor of `total_s` seconds."""
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(int(total_s * SAMPLE_RATE_HZ)).astype(np.float32) * 1e-3
    for s in segments:
        part = song(s.seed, s.seconds)
        first = int(s.at_s * SAMPLE_RATE_HZ)
        audio[first : first + len(part)] = part[: len(audio) - first]
    return audio


def payloads(
    audio: np.ndarray, start_ms: int, source_id: str = "fm", seq_first: int = 0
) -> list[bytes]:
    """The encoded batches an agent sends for `audio` heard from UTC `start_ms`."""
    found, frame_end = fingerprint_in_chunks(audio)
    source = BatchSource(DEVICE, source_id, FINGERPRINT_VERSION, stream_start_ms=start_ms)
    return [
        encode_batch(b)
        for b in batches_from_fingerprints(
            found, source=source, frame_end=frame_end, seq_first=seq_first
        )
    ]


def ingest(app: Flask, encoded: list[bytes], received_ms: int) -> list[int]:
    """Store payloads as the listener would; the ids of the batches stored (not duplicates)."""
    pks = []
    with app.app_context():
        for payload in encoded:
            outcome = ingest_payload(db.session, TOPIC, payload, received_ms)
            assert outcome.kind in (STORED, DUPLICATE), outcome
            if outcome.kind == STORED:
                pks.append(outcome.batch_pk)
        db.session.commit()
    return pks


def stored_ago(app: Flask, pks: list[int], seconds: int) -> None:
    """Make the batches look stored `seconds` ago."""
    with app.app_context():
        when = datetime.now(UTC) - timedelta(seconds=seconds)
        db.session.execute(
            update(IngestedBatch).where(IngestedBatch.id.in_(pks)).values(received_at=when)
        )
        db.session.commit()


def matched_batches(app: Flask) -> set[int]:
    """Ids of the matched batches."""
    with app.app_context():
        found = db.session.scalars(
            select(IngestedBatch.id).where(IngestedBatch.matched_at.is_not(None))
        )
        return set(found)
