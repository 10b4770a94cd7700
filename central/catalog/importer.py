"""Catalogue import: parse a manifest (JSON or CSV), then analyse and register each track."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from central.catalog import store
from central.catalog.analysis import Analysis, analyse_files
from central.catalog.models import EXTERNAL_ID_CHARS_MAX, TEXT_CHARS_MAX, Track
from central.errors import ManifestError
from edge_agent.fingerprint import Fingerprints

COLUMNS = ("id", "path", "title", "artist", "isrc")
PROBLEMS_SHOWN_MAX = 20  # a manifest with more problems lists the first 20 and counts the rest
ISRC_PATTERN = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")

REGISTERED, SKIPPED, FAILED = "registered", "skipped", "failed"

# A per-track check run after a track is registered (e.g. near-duplicate detection): it may add
# rows to the session and returns notes to print. Pass checks to `import_entries`.
TrackCheck = Callable[[Session, Track, Fingerprints], Iterable[str]]


@dataclass(frozen=True)
class ManifestEntry:
    """One track of a manifest, its path resolved against the manifest's folder."""

    external_id: str
    path: Path
    title: str
    artist: str | None = None
    isrc: str | None = None


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


def read_manifest(path: Path) -> list[ManifestEntry]:
    """Read a .json or .csv manifest; ManifestError names every problem found."""
    if path.suffix.lower() not in (".json", ".csv"):
        raise ManifestError(f"{path}: unknown manifest format: expected a .json or .csv file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: cannot read manifest: {error}") from None
    parse = parse_csv if path.suffix.lower() == ".csv" else parse_json
    return parse(text, path.resolve().parent, str(path))


def parse_json(text: str, base_dir: Path, source: str = "manifest") -> list[ManifestEntry]:
    """Entries of a JSON manifest {"tracks": [{"id", "path", "title"?, "artist"?, "isrc"?}]}."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"{source}: invalid JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("tracks"), list):
        raise ManifestError(f'{source}: expected an object with a "tracks" list')
    records = [(f"track {i}", record) for i, record in enumerate(document["tracks"])]
    return _entries(records, base_dir, source)


def parse_csv(text: str, base_dir: Path, source: str = "manifest") -> list[ManifestEntry]:
    """Entries of a CSV manifest with a header row naming at least the id and path columns."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in ("id", "path") if c not in (reader.fieldnames or [])]
    if missing:
        raise ManifestError(f"{source}: CSV header lacks column(s): {', '.join(missing)}")
    try:
        records = [(f"line {reader.line_num}", _csv_record(row)) for row in reader]
    except csv.Error as error:
        raise ManifestError(f"{source}: invalid CSV at line {reader.line_num}: {error}") from None
    return _entries(records, base_dir, source)


def _csv_record(row: dict[str | None, Any]) -> dict[str, Any]:
    """A CSV row as a JSON-like record: known columns only, empty cells as None."""
    return {c: (row.get(c) or "").strip() or None for c in COLUMNS}


def _entries(
    records: Sequence[tuple[str, Any]], base_dir: Path, source: str
) -> list[ManifestEntry]:
    """Validate every record; raise one ManifestError listing all problems."""
    entries, problems = [], []
    for where, record in records:
        try:
            entries.append(_entry(record, base_dir))
        except ValueError as error:
            problems.append(f"{where}: {error}")
    if problems:
        shown = problems[:PROBLEMS_SHOWN_MAX]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more")
        raise ManifestError(f"{source}: invalid entries:\n" + "\n".join(f"  {p}" for p in shown))
    return entries


def _entry(record: Any, base_dir: Path) -> ManifestEntry:
    """One validated entry; ValueError says what is wrong with `record`."""
    if not isinstance(record, dict):
        raise ValueError("expected an object")
    external_id = _text(record, "id", EXTERNAL_ID_CHARS_MAX, required=True, allow_int=True)
    path = Path(_text(record, "path", 4096, required=True)).expanduser()
    return ManifestEntry(
        external_id=external_id,
        path=path if path.is_absolute() else base_dir / path,
        title=_text(record, "title", TEXT_CHARS_MAX) or path.stem,
        artist=_text(record, "artist", TEXT_CHARS_MAX),
        isrc=_isrc(_text(record, "isrc", 32)),
    )


def _text(
    record: dict[str, Any], key: str, chars_max: int, required: bool = False, allow_int=False
) -> Any:
    """record[key] as a stripped non-empty string, or None if optional and absent."""
    value = record.get(key)
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f'"{key}" is missing')
        return None
    if not isinstance(value, str):
        raise ValueError(f'"{key}" must be a string, not {type(value).__name__}')
    if len(value.strip()) > chars_max:
        raise ValueError(f'"{key}" is longer than {chars_max} characters')
    return value.strip()


def _isrc(value: str | None) -> str | None:
    """An ISRC without separators, upper case; ValueError if it is not one."""
    if value is None:
        return None
    compact = re.sub(r"[-\s]", "", value).upper()
    if not ISRC_PATTERN.fullmatch(compact):
        raise ValueError(f'"isrc" {value!r} is not an ISRC (CC-XXX-YY-NNNNN)')
    return compact


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
        duration_ms=result.duration_ms,
        content_hash=result.content_hash,
        fingerprints=result.fingerprints,
        fingerprint_version=fingerprint_version,
    )
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
