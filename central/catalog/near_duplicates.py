"""Flag a newly registered track that shares a recording with one already in the catalogue.

The new track's reference hashes are matched window by window, exactly like broadcast audio,
against the catalogue as it stood when the import began plus the tracks added since; any play
of another track found inside it (30 s or more of shared material) is reported, and recorded
as a TrackNearDuplicate link. The track is still registered: remixes and radio edits are
legitimate works, but an operator should know, and plays count one airing of the shared
recording once (central/plays/same_recording.py).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.catalog.models import Track, TrackNearDuplicate
from central.catalog.store import load_reference_fingerprints
from central.errors import FingerprintVersionError
from central.matching.index import MatchIndex, TrackRef, build_index
from central.matching.loader import load_index
from central.matching.matcher import match_window, split_windows
from central.plays.aggregate import Play, build_plays
from edge_agent.batch import WINDOW_FRAMES
from edge_agent.fingerprint import Fingerprints


class NearDuplicateCheck:
    """A per-import TrackCheck: notes for each registered track that overlaps this one."""

    def __init__(self, fingerprint_version: int) -> None:
        self.fingerprint_version = fingerprint_version
        self._indexes: list[MatchIndex] | None = None

    def __call__(self, session: Session, track: Track, fingerprints: Fingerprints) -> list[str]:
        if self._indexes is None:
            excluded = frozenset({track.id})
            try:
                self._indexes = [load_index(session, self.fingerprint_version, excluded)]
            except FingerprintVersionError as error:
                self._indexes = []
                return [f"near-duplicate check against the existing catalogue skipped: {error}"]
        plays = near_duplicates(self._indexes, track.id, fingerprints)
        record_links(session, track.id, plays)
        ref = TrackRef(track.id, track.external_id, track.title)
        self._indexes.append(build_index([(ref, fingerprints)], self.fingerprint_version))
        return [note(p) for p in plays]


def near_duplicates(
    indexes: list[MatchIndex], track_id: int, fingerprints: Fingerprints
) -> list[Play]:
    """Plays of other tracks found inside `fingerprints`, each 30 s or more."""
    windows = split_windows(fingerprints, WINDOW_FRAMES)
    matches = [m for index in indexes for w in windows for m in match_window(index, w)]
    return [p for p in build_plays(matches) if p.track.track_id != track_id]


def near_duplicate_notes(
    indexes: list[MatchIndex], track_id: int, fingerprints: Fingerprints
) -> list[str]:
    """One note per other track found playing inside `fingerprints` for 30 s or more."""
    return [note(p) for p in near_duplicates(indexes, track_id, fingerprints)]


def note(play: Play) -> str:
    """The import note for one near-duplicate found."""
    return (
        f"near-duplicate of {play.track.external_id} ({play.track.title}): "
        f"{play.duration_s:.0f} s shared from {play.start_s:.0f} s"
    )


def record_links(session: Session, track_id: int, plays: list[Play]) -> None:
    """Store one link per other track found (the longest share when it is found twice)."""
    shared_ms: dict[int, int] = {}
    for p in plays:
        other = p.track.track_id
        shared_ms[other] = max(shared_ms.get(other, 0), round(p.duration_s * 1000))
    for other, ms in sorted(shared_ms.items()):
        session.merge(TrackNearDuplicate(track_id=track_id, other_track_id=other, shared_ms=ms))
    session.flush()


def linked_pairs(session: Session) -> list[tuple[int, int]]:
    """Every stored link, as (track, other track)."""
    rows = session.execute(select(TrackNearDuplicate.track_id, TrackNearDuplicate.other_track_id))
    return [(a, b) for a, b in rows]


def link_catalogue(session: Session, fingerprint_version: int) -> int:
    """Run the check over every registered track against the whole catalogue and record the
    links not yet known either way (tracks imported before links were kept); how many new."""
    index = load_index(session, fingerprint_version)
    known = {frozenset(pair) for pair in linked_pairs(session)}
    found: dict[int, list[Play]] = {}
    for track_id, _, _, fingerprints in load_reference_fingerprints(session, fingerprint_version):
        for play in near_duplicates([index], track_id, fingerprints):
            pair = frozenset({track_id, play.track.track_id})
            if pair not in known:
                known.add(pair)
                found.setdefault(track_id, []).append(play)
    for track_id, plays in found.items():
        record_links(session, track_id, plays)
    return sum(len(plays) for plays in found.values())
