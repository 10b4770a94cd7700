"""Build the matcher's index from the catalogue tables (the I/O shell around index.py)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from central.catalog.store import load_reference_fingerprints, tracks_missing_version
from central.errors import FingerprintVersionError
from central.matching.index import MatchIndex, TrackRef, build_index
from edge_agent.fingerprint import FINGERPRINT_VERSION

logger = logging.getLogger(__name__)


def load_index(
    session: Session,
    fingerprint_version: int = FINGERPRINT_VERSION,
    exclude_track_ids: frozenset[int] = frozenset(),
) -> MatchIndex:
    """Every registered track's reference hashes of `fingerprint_version`, indexed.

    Refuses a catalogue holding tracks fingerprinted only with another version: matching would
    silently miss them.
    """
    missing = tracks_missing_version(session, fingerprint_version)
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise FingerprintVersionError(
            f"{len(missing)} catalogue tracks have no version {fingerprint_version} fingerprints "
            f"({shown}): re-import them into a fresh catalogue"
        )
    entries = (
        (TrackRef(track_id, external_id, title), prints)
        for track_id, external_id, title, prints in load_reference_fingerprints(
            session, fingerprint_version
        )
        if track_id not in exclude_track_ids
    )
    index = build_index(entries, fingerprint_version)
    logger.info(
        "index: %d tracks, %d hashes, %.1f MB",
        len(index.tracks),
        len(index),
        index.nbytes / 1e6,
    )
    return index
