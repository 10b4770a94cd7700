"""Shared by central's integration tests of read queries: stations, tracks, plays and detections
inserted as rows, without fingerprinting or matching anything."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from central.catalog.models import Track
from central.ingest.models import IngestedBatch
from central.matching.models import Detection
from central.plays.models import Play
from central.stations.models import Device, Station

T0_MS = 1_788_220_800_000  # 2026-09-01T00:00:00Z
MINUTE_MS = 60_000
CLOSED_AT = datetime(2026, 9, 2, tzinfo=UTC)


def add_station(session: Session, code: str, devices: tuple[str, ...] = ()) -> Station:
    """A station with active devices of the given codes."""
    station = Station(code=code, name=f"Station {code}", stream_url=None)
    for device_code in devices:
        station.devices.append(Device(code=device_code, active=True, password_hash="$7$x"))
    session.add(station)
    session.flush()
    return station


def add_track(session: Session, external_id: str, artist: str | None = "Artist") -> Track:
    """A catalogue track (no fingerprints) of 3 minutes."""
    track = Track(
        external_id=external_id,
        title=f"Title {external_id}",
        artist=artist,
        isrc=None,
        duration_ms=180_000,
        content_hash=hashlib.sha256(external_id.encode()).hexdigest()[:16],
    )
    session.add(track)
    session.flush()
    return track


def add_play(
    session: Session,
    station: Station,
    track: Track,
    start_ms: int,
    duration_ms: int = 3 * MINUTE_MS,
    closed: bool = True,
) -> Play:
    """A play of `track` at `station`, closed unless told otherwise."""
    play = Play(
        station_id=station.id,
        track_id=track.id,
        start_ms=start_ms,
        end_ms=start_ms + duration_ms,
        speed_ratio=1.0,
        inliers=120,
        detections=12,
        confidence=0.875,
        closed_at=CLOSED_AT if closed else None,
    )
    session.add(play)
    session.flush()
    return play


def add_detection(session: Session, station: Station, track: Track, start_ms: int) -> Detection:
    """A strong detection of `track` in a batch of the station's first device."""
    device = station.devices[0]
    batch = IngestedBatch(
        device_id=device.id,
        station_id=station.id,
        source_id="main",
        seq=start_ms,
        batch_id=start_ms.to_bytes(16, "little"),
        fingerprint_version=2,
        window_start_ms=start_ms,
        window_frames=320,
        hash_count=0,
        payload=b"",
        payload_hash="0" * 16,
    )
    session.add(batch)
    session.flush()
    detection = Detection(
        ingested_batch_id=batch.id,
        station_id=station.id,
        track_id=track.id,
        window_start_ms=start_ms,
        start_ms=start_ms,
        end_ms=start_ms + 9_000,
        query_first_frame=0,
        query_last_frame=300,
        inliers=40,
        query_hashes=250,
        speed_ratio=1.0,
        offset_frames=0.0,
        confidence=0.9,
        strong=True,
    )
    session.add(detection)
    session.flush()
    return detection
