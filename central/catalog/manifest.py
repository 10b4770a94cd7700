"""Catalogue manifests (JSON or CSV): every entry checked, the bad ones reported with their index
and reason, the good ones kept. Pure, apart from reading the file.

JSON: {"tracks": [{"id", "path", "title"?, "artist"?, "isrc"?, "iswc"?, "shares"?}]}; CSV: a
header naming at least id and path, the same columns, `shares` a cell of JSON. `shares` is the
document `zamio royalty shares set` takes (parsed by central.royalties.rights.parse_shares).
Text fields may not hold control characters (NUL, newlines, ...) nor exceed their column; an
entry nested deeper than the schema (ENTRY_DEPTH_MAX) is refused before it is looked at, and JSON
too deep for the parser is one error, "manifest is not valid JSON: ...".
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from central.catalog.models import EXTERNAL_ID_CHARS_MAX, TEXT_CHARS_MAX
from central.errors import ManifestError
from central.royalties.rights import COMPOSITION, MASTER, PoolShares, parse_shares
from central.royalties.splits import normalize_isrc, normalize_iswc

COLUMNS = ("id", "path", "title", "artist", "isrc", "iswc", "shares")
MANIFEST_BYTES_MAX = 64 * 1024 * 1024
TRACKS_MAX = 100_000  # entries of one manifest
PATH_CHARS_MAX = 4096
CODE_CHARS_MAX = 32  # an ISRC or ISWC as written, with separators
# entry {} > shares {} > pool {} > shares [] > share {}: values inside are scalars
ENTRY_DEPTH_MAX = 5
SHOWN_CHARS_MAX = 60  # of a bad value quoted in a reason
REASON_CHARS_MAX = 400  # of one rejected entry's reasons


@dataclass(frozen=True)
class ManifestEntry:
    """One track of a manifest, its path resolved against the manifest's folder."""

    external_id: str
    path: Path
    title: str
    artist: str | None = None
    isrc: str | None = None
    iswc: str | None = None
    shares: tuple[PoolShares, ...] = ()


@dataclass(frozen=True)
class Rejected:
    """A manifest entry refused: where it is (e.g. "track 3", "line 4"), its id if it has a
    readable one, and why."""

    where: str
    external_id: str
    reason: str


@dataclass(frozen=True)
class Manifest:
    """The good entries of a manifest and the bad ones, in manifest order."""

    entries: tuple[ManifestEntry, ...]
    rejected: tuple[Rejected, ...] = ()


def read_manifest(path: Path) -> Manifest:
    """Read a .json or .csv manifest; ManifestError if the file as a whole cannot be used."""
    if path.suffix.lower() not in (".json", ".csv"):
        raise ManifestError(f"{path}: unknown manifest format: expected a .json or .csv file")
    try:
        if path.stat().st_size > MANIFEST_BYTES_MAX:
            raise ManifestError(f"{path}: manifest is over {MANIFEST_BYTES_MAX} bytes")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: cannot read manifest: {error}") from None
    parse = parse_csv if path.suffix.lower() == ".csv" else parse_json
    return parse(text, path.resolve().parent, str(path))


def parse_json(text: str, base_dir: Path, source: str = "manifest") -> Manifest:
    """The entries of a JSON manifest."""
    try:
        document = json.loads(text)
    except (RecursionError, ValueError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise ManifestError(f"{source}: manifest is not valid JSON: {reason}") from None
    if not isinstance(document, dict) or not isinstance(document.get("tracks"), list):
        raise ManifestError(f'{source}: expected an object with a "tracks" list')
    records = [(f"track {i}", record) for i, record in enumerate(document["tracks"])]
    return _manifest(records, base_dir)


def parse_csv(text: str, base_dir: Path, source: str = "manifest") -> Manifest:
    """The entries of a CSV manifest with a header row naming at least the id and path columns."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        missing = [c for c in ("id", "path") if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(f"{source}: CSV header lacks column(s): {', '.join(missing)}")
        records = [(f"line {reader.line_num}", _csv_record(row)) for row in reader]
    except csv.Error as error:
        raise ManifestError(f"{source}: invalid CSV at line {reader.line_num}: {error}") from None
    return _manifest(records, base_dir)


def _csv_record(row: dict[str | None, Any]) -> dict[str, Any]:
    """A CSV row as a JSON-like record: known columns only, empty cells as None, shares parsed."""
    record = {c: (row.get(c) or "").strip() or None for c in COLUMNS}
    if record["shares"] is not None:
        try:
            record["shares"] = json.loads(record["shares"])
        except (RecursionError, ValueError) as error:
            record["shares"] = _BadCell(f'"shares" is not valid JSON: {_one_line(error)}')
    return record


@dataclass(frozen=True)
class _BadCell:
    """A CSV cell that could not be read, with the reason."""

    reason: str


def _manifest(records: Sequence[tuple[str, Any]], base_dir: Path) -> Manifest:
    """Check every record: good ones become entries, bad ones Rejected."""
    entries, rejected = [], []
    for n, (where, record) in enumerate(records):
        if n >= TRACKS_MAX:
            rejected.append(Rejected(where, "", f"over {TRACKS_MAX} tracks in one manifest"))
            continue
        try:
            entries.append(entry_of(record, base_dir))
        except ValueError as error:
            reason = str(error)
            if len(reason) > REASON_CHARS_MAX:
                reason = reason[: REASON_CHARS_MAX - 3] + "..."
            rejected.append(Rejected(where, _readable_id(record), reason))
    return Manifest(tuple(entries), tuple(rejected))


def entry_of(record: Any, base_dir: Path) -> ManifestEntry:
    """One checked entry; ValueError says what is wrong with `record`."""
    if not isinstance(record, dict):
        raise ValueError(f"expected an object, not {type(record).__name__}")
    if depth(record, ENTRY_DEPTH_MAX + 1) > ENTRY_DEPTH_MAX:
        raise ValueError(f"nested deeper than the {ENTRY_DEPTH_MAX} levels a track entry has")
    external_id = _text(record, "id", EXTERNAL_ID_CHARS_MAX, required=True, allow_int=True)
    path = Path(_text(record, "path", PATH_CHARS_MAX, required=True)).expanduser()
    isrc = _code(record, "isrc", normalize_isrc)
    iswc = _code(record, "iswc", normalize_iswc)
    pools = _shares(record.get("shares"))
    codes = {pool.pool: pool.work_code for pool in pools}
    for pool, key, code in ((MASTER, "isrc", isrc), (COMPOSITION, "iswc", iswc)):
        if code and codes.get(pool, code) != code:
            raise ValueError(f'"{key}" {code} is not the {pool} shares\' ({codes[pool]})')
    return ManifestEntry(
        external_id=external_id,
        path=path if path.is_absolute() else base_dir / path,
        title=_text(record, "title", TEXT_CHARS_MAX) or path.stem[:TEXT_CHARS_MAX],
        artist=_text(record, "artist", TEXT_CHARS_MAX),
        isrc=isrc or codes.get(MASTER),
        iswc=iswc or codes.get(COMPOSITION),
        shares=tuple(pools),
    )


def depth(value: Any, limit: int) -> int:
    """How deeply lists and objects nest in `value` (a scalar: 0), counted up to `limit`;
    iterative, so no input can exhaust the stack."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        deepest = max(deepest, level)
        if deepest >= limit:
            return deepest
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children)
    return deepest


def _text(
    record: dict[str, Any], key: str, chars_max: int, required: bool = False, allow_int=False
) -> Any:
    """record[key] as a stripped non-empty string with no control characters, or None if
    optional and absent."""
    value = record.get(key)
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f'"{key}" is missing')
        return None
    if not isinstance(value, str):
        raise ValueError(f'"{key}" must be a string, not {type(value).__name__}')
    value = value.strip()
    if len(value) > chars_max:
        raise ValueError(f'"{key}" is longer than {chars_max} characters')
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cs")), None)
    if bad is not None:
        raise ValueError(f'"{key}" holds a control character (U+{ord(bad):04X})')
    return value


def _code(record: dict[str, Any], key: str, normalize: Any) -> str | None:
    """record[key] as a normalized ISRC or ISWC (spaces and separators dropped), or None."""
    value = _text(record, key, CODE_CHARS_MAX)
    if value is None:
        return None
    try:
        return normalize(re.sub(r"\s", "", value))
    except ValueError as error:
        raise ValueError(f'"{key}": {error}') from None


def _shares(document: Any) -> list[PoolShares]:
    """The pools of an entry's shares document (none if absent); ValueError with every problem."""
    if document is None:
        return []
    if isinstance(document, _BadCell):
        raise ValueError(document.reason)
    pools, problems = parse_shares(document)
    if problems:
        raise ValueError('"shares": ' + "; ".join(problems))
    return pools


def _readable_id(record: Any) -> str:
    """The id of a rejected record if it is a short clean string or an integer, else ''."""
    value = record.get("id") if isinstance(record, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and len(value) <= EXTERNAL_ID_CHARS_MAX and value.isprintable():
        return value.strip()
    return ""


def _one_line(error: Exception) -> str:
    """An error's message on one line, at most SHOWN_CHARS_MAX characters."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return " ".join(str(error).split())[:SHOWN_CHARS_MAX]
