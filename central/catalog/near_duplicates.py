"""Flag a newly registered track that shares a recording with one already in the catalogue.

The new track's reference hashes are matched window by window, exactly like broadcast audio,
against the catalogue as it stood when the import began plus the tracks added since; any play
of another track found inside it (30 s or more of shared material) is reported. The track is
still registered: remixes and radio edits are legitimate works, but an operator should know.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from central.catalog.models import Track
from central.errors import FingerprintVersionError
from central.matching.index import MatchIndex, TrackRef, build_index
from central.matching.loader import load_index
from central.matching.matcher import match_window, split_windows
from central.plays.aggregate import build_plays
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
        notes = near_duplicate_notes(self._indexes, track.id, fingerprints)
        ref = TrackRef(track.id, track.external_id, track.title)
        self._indexes.append(build_index([(ref, fingerprints)], self.fingerprint_version))
        return notes


def near_duplicate_notes(
    indexes: list[MatchIndex], track_id: int, fingerprints: Fingerprints
) -> list[str]:
    """One note per other track found playing inside `fingerprints` for 30 s or more."""
    windows = split_windows(fingerprints, WINDOW_FRAMES)
    matches = [m for index in indexes for w in windows for m in match_window(index, w)]
    plays = [p for p in build_plays(matches) if p.track.track_id != track_id]
    return [
        f"near-duplicate of {p.track.external_id} ({p.track.title}): "
        f"{p.duration_s:.0f} s shared from {p.start_s:.0f} s"
        for p in plays
    ]
