"""Catalogue import: analyse and register each entry of a manifest (manifest.py), with the
rights shares it gives, one commit per track."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from central.catalog import store
from central.catalog.analysis import Analysis, analyse_files
from central.catalog.manifest import (  # noqa: F401 (parse_*, read_manifest: used via importer)
    Manifest,
    ManifestEntry,
    parse_csv,
    parse_json,
    read_manifest,
)
from central.catalog.models import Track
from central.royalties.errors import SharesError
from central.royalties.store import set_track_shares
from edge_agent.fingerprint import Fingerprints

REGISTERED, SKIPPED, FAILED = "registered", "skipped", "failed"

# A per-track check run after a track is registered (e.g. near-duplicate detection): it may add
# rows to the session and returns notes to print. Pass checks to `import_entries`.
TrackCheck = Callable[[Session, Track, Fingerprints], Iterable[str]]


@dataclass(frozen=True)
class Outcome:
    """What happened to one manifest entry: REGISTERED, SKIPPED or FAILED, and why."""

    external_id: str
    status: str
    message: str


@dataclass(frozen=True)
class ImportReport:
    """Every outcome of one import, in the order they were decided."""

    outcomes: tuple[Outcome, ...]

    def count(self, status: str) -> int:
        """How many entries ended with `status`."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)


def rejected_outcomes(manifest: Manifest) -> tuple[Outcome, ...]:
    """A FAILED outcome per entry the manifest refused, saying where it is and why."""
    return tuple(
        Outcome(r.external_id or r.where, FAILED, f"manifest {r.where}: {r.reason}")
        for r in manifest.rejected
    )


def import_entries(
    session: Session,
    entries: Sequence[ManifestEntry],
    *,
    fingerprint_version: int,
    workers: int = 1,
    track_checks: Sequence[TrackCheck] = (),
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
) -> ImportReport:
    """Register each new entry (committing one by one); skip known ids and audio; note failures."""
    outcomes: list[Outcome] = []

    def decide(outcome: Outcome) -> None:
        outcomes.append(outcome)
        on_outcome(outcome)

    pending = []
    for entry in entries:
        known = store.find_by_external_id(session, entry.external_id)
        if known is None:
            pending.append(entry)
        else:
            decide(Outcome(entry.external_id, SKIPPED, "already registered (same external id)"))
    results = analyse_files([entry.path for entry in pending], workers)
    for entry, result in zip(pending, results, strict=True):
        decide(_record(session, entry, result, fingerprint_version, track_checks))
    return ImportReport(tuple(outcomes))


def _record(
    session: Session,
    entry: ManifestEntry,
    result: Analysis | str,
    fingerprint_version: int,
    track_checks: Sequence[TrackCheck],
) -> Outcome:
    """Register one analysed entry and run the per-track checks, or say why not."""
    if isinstance(result, str):
        return Outcome(entry.external_id, FAILED, result)
    duplicate = _duplicate_reason(session, entry, result)
    if duplicate:
        return Outcome(entry.external_id, SKIPPED, duplicate)
    track = store.register_track(
        session,
        external_id=entry.external_id,
        title=entry.title,
        artist=entry.artist,
        isrc=entry.isrc,
        iswc=entry.iswc,
        duration_ms=result.duration_ms,
        content_hash=result.content_hash,
        fingerprints=result.fingerprints,
        fingerprint_version=fingerprint_version,
    )
    try:  # before the checks: a refused entry must leave nothing in their state
        for pool in entry.shares:
            set_track_shares(session, track.id, pool)
    except SharesError as error:
        session.rollback()
        return Outcome(entry.external_id, FAILED, f"shares refused: {error}")
    notes = [note for check in track_checks for note in check(session, track, result.fingerprints)]
    session.commit()
    summary = f"{len(result.fingerprints)} hashes, {format_duration(result.duration_ms)}"
    return Outcome(entry.external_id, REGISTERED, "; ".join([summary, *notes]))


def _duplicate_reason(session: Session, entry: ManifestEntry, result: Analysis) -> str:
    """Why this entry duplicates a registered track (id or audio content), or ''."""
    if store.find_by_external_id(session, entry.external_id) is not None:
        return "already registered (same external id)"
    same_audio = store.find_by_content_hash(session, result.content_hash)
    if same_audio is not None:
        return f"same audio as registered track {same_audio.external_id}"
    return ""


def format_duration(duration_ms: int) -> str:
    """Milliseconds as m:ss (or h:mm:ss), rounded to the second."""
    minutes, seconds = divmod(round(duration_ms / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
