"""Reading and writing catalogue rows: tracks, their fingerprints, and summaries for listing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.catalog.models import Track, TrackFingerprint
from edge_agent.fingerprint import Fingerprints

LOAD_BATCH_ROWS = 64  # fingerprint rows fetched per round trip while building an index


@dataclass(frozen=True)
class TrackSummary:
    """One line of `zamio catalog list`."""

    external_id: str
    title: str
    artist: str | None
    isrc: str | None
    duration_ms: int
    hash_count: int  # 0 when the track has no fingerprints of the version asked for


def register_track(
    session: Session,
    *,
    external_id: str,
    title: str,
    artist: str | None,
    isrc: str | None,
    duration_ms: int,
    content_hash: str,
    fingerprints: Fingerprints,
    fingerprint_version: int,
    iswc: str | None = None,
) -> Track:
    """Add a track and its fingerprints to `session` and flush; the caller commits."""
    track = Track(
        external_id=external_id,
        title=title,
        artist=artist,
        isrc=isrc,
        iswc=iswc,
        duration_ms=duration_ms,
        content_hash=content_hash,
    )
    track.fingerprints.append(to_row(fingerprints, fingerprint_version))
    session.add(track)
    session.flush()
    return track


def find_by_external_id(session: Session, external_id: str) -> Track | None:
    """The track registered under `external_id`, if any."""
    return session.scalar(select(Track).where(Track.external_id == external_id))


def find_by_content_hash(session: Session, content_hash: str) -> Track | None:
    """The track whose decoded audio has `content_hash`, if any."""
    return session.scalar(select(Track).where(Track.content_hash == content_hash))


def load_reference_fingerprints(
    session: Session, fingerprint_version: int
) -> Iterator[tuple[int, str, str, Fingerprints]]:
    """Yield (track_id, external_id, title, Fingerprints) of every track, in track id order."""
    query = (
        select(Track.id, Track.external_id, Track.title, TrackFingerprint)
        .join(TrackFingerprint, TrackFingerprint.track_id == Track.id)
        .where(TrackFingerprint.fingerprint_version == fingerprint_version)
        .order_by(Track.id)
        .execution_options(yield_per=LOAD_BATCH_ROWS)
    )
    for track_id, external_id, title, row in session.execute(query):
        yield track_id, external_id, title, from_row(row)


def tracks_missing_version(session: Session, fingerprint_version: int) -> list[str]:
    """External ids of tracks lacking fingerprints of `fingerprint_version`."""
    has_version = (
        select(TrackFingerprint.track_id)
        .where(TrackFingerprint.fingerprint_version == fingerprint_version)
        .scalar_subquery()
    )
    query = select(Track.external_id).where(Track.id.not_in(has_version)).order_by(Track.id)
    return list(session.scalars(query))


def list_summaries(session: Session, fingerprint_version: int) -> list[TrackSummary]:
    """Every track with its hash count for `fingerprint_version`, by external id."""
    query = (
        select(Track, TrackFingerprint.hash_count)
        .outerjoin(
            TrackFingerprint,
            (TrackFingerprint.track_id == Track.id)
            & (TrackFingerprint.fingerprint_version == fingerprint_version),
        )
        .order_by(Track.external_id)
    )
    return [
        TrackSummary(t.external_id, t.title, t.artist, t.isrc, t.duration_ms, count or 0)
        for t, count in session.execute(query)
    ]


def to_row(fingerprints: Fingerprints, fingerprint_version: int) -> TrackFingerprint:
    """A TrackFingerprint holding `fingerprints` as uint32 little-endian bytes."""
    assert fingerprints.hashes.shape == fingerprints.anchor_frames.shape
    return TrackFingerprint(
        fingerprint_version=fingerprint_version,
        hash_count=len(fingerprints),
        hashes=fingerprints.hashes.astype("<u4").tobytes(),
        anchor_frames=fingerprints.anchor_frames.astype("<u4").tobytes(),
    )


def from_row(row: TrackFingerprint) -> Fingerprints:
    """The Fingerprints stored in `row`, as native uint32 arrays."""
    hashes = np.frombuffer(row.hashes, dtype="<u4").astype(np.uint32)
    anchor_frames = np.frombuffer(row.anchor_frames, dtype="<u4").astype(np.uint32)
    assert hashes.shape == anchor_frames.shape == (row.hash_count,), row.track_id
    return Fingerprints(hashes, anchor_frames)
