"""Track uploads: check an upload's metadata and file, keep the file, record it and enqueue its
processing (upload_job.py); and what a client polls to follow it.

An upload is refused at once, with every reason, when its metadata is wrong (upload_checks.py),
the file is empty, larger than ZAMIO_UPLOAD_BYTES_MAX, or plainly no audio: nothing is kept.
Files are kept under the uploads folder (ZAMIO_UPLOADS_DIR; unset: `uploads` beside the
SQLite file, or in the user's data dir), named by a random token, readable by the owner only.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from rq import Queue
from sqlalchemy import or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from central import queues
from central.auth import audit
from central.catalog import store
from central.catalog.models import Track
from central.catalog.upload_checks import (
    SNIFF_BYTES,
    UploadMetadata,
    check_metadata,
    holders,
    sniff_container,
)
from central.catalog.upload_models import QUEUED, TrackReview, TrackUpload
from central.config import Settings, data_dir
from central.errors import UploadError
from central.royalties.rights import parse_shares

logger = logging.getLogger(__name__)

COPY_CHUNK_BYTES = 1 << 20
RECENT_UPLOADS_MAX = 100
FILE_MODE = 0o600


@dataclass(frozen=True)
class UploadStatus:
    """What a client polls: where an upload is, and what became of it."""

    id: int
    job_id: str
    state: str
    progress_percent: int
    error: str | None
    title: str
    artist: str | None
    isrc: str | None
    iswc: str | None
    submitted_by: str
    size_bytes: int
    track_id: int | None
    track_external_id: str | None
    review_id: int | None
    created_at: datetime
    updated_at: datetime


def uploads_dir(settings: Settings, environ: Mapping[str, str] = os.environ) -> Path:
    """Where uploaded files are kept: ZAMIO_UPLOADS_DIR, else beside the SQLite file, else in
    the user's data dir (a PostgreSQL deployment without the setting)."""
    if settings.uploads_dir:
        return Path(settings.uploads_dir).expanduser()
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().parent / "uploads"
    return data_dir(environ) / "uploads"


def submit_upload(
    session: Session,
    queue: Queue,
    stream: IO[bytes],
    fields: Mapping[str, Any],
    *,
    submitted_by: str,
    parties: frozenset[str] | None,
    directory: Path,
    bytes_max: int,
) -> TrackUpload:
    """Check, keep and record an upload, commit, and enqueue its processing (inline: done when
    this returns). `fields`: title, artist, isrc, iswc, external_id, shares (a shares
    document), filename. `parties` None: an operator uploading on behalf of the shares' parties.
    UploadError with every problem, and nothing kept, when refused."""
    if parties is None:
        parties = frozenset(holders(parse_shares(fields.get("shares"))[0]))
    metadata = checked_metadata(session, fields, parties)
    path, size_bytes, container = store_file(stream, directory, bytes_max)
    try:
        row = _record(session, metadata, fields, submitted_by, parties, path, container)
        row.size_bytes = size_bytes
        upload_id = row.id  # now: once committed, a read would open an SQLite snapshot that
        session.commit()  # an inline job's changes stay invisible to
    except BaseException:
        session.rollback()
        path.unlink(missing_ok=True)
        raise
    try:
        queues.enqueue_process_upload(queue, upload_id)
    except queues.REDIS_DOWN as error:  # recorded as queued: sweep_uploads enqueues it later
        logger.warning("upload %d: not enqueued, Redis unavailable: %s", upload_id, error)
    return row


def register_upload(
    session: Session,
    queue: Queue,
    stream: IO[bytes],
    fields: Mapping[str, Any],
    *,
    actor: str,
    via: str,
    parties: frozenset[str] | None,
    settings: Settings,
) -> TrackUpload:
    """Register a track by upload, as the API and the console do: submit_upload into the
    settings' uploads folder and size limit, audited as `actor` (via api or console),
    committed. UploadError with every problem, nothing kept and the session rolled back."""
    try:
        row = submit_upload(
            session, queue, stream, fields, submitted_by=actor, parties=parties,
            directory=uploads_dir(settings), bytes_max=settings.upload_bytes_max,
        )  # fmt: skip
    except UploadError:
        session.rollback()
        raise
    audit.record(session, actor, via, "track.upload", "track_upload", row.id,
                 {"title": row.title, "size_bytes": row.size_bytes})  # fmt: skip
    session.commit()
    return row


def too_large(error: UploadError) -> bool:
    """Whether an upload was refused for its size (413 rather than 400)."""
    return any("too large" in p for p in error.problems)


def checked_metadata(
    session: Session, fields: Mapping[str, Any], parties: frozenset[str]
) -> UploadMetadata:
    """The upload's checked metadata; UploadError with every problem."""
    metadata, problems = check_metadata(
        fields.get("title"), fields.get("artist"), fields.get("isrc"), fields.get("iswc"),
        fields.get("external_id"), fields.get("shares"), parties,
    )  # fmt: skip
    wanted = fields.get("external_id")
    wanted = wanted.strip() if isinstance(wanted, str) else None
    if wanted and store.find_by_external_id(session, wanted) is not None:
        problems.append(f"external_id: {wanted} is already registered")
    if problems or metadata is None:
        raise UploadError(problems)
    return metadata


def _record(
    session: Session,
    metadata: UploadMetadata,
    fields: Mapping[str, Any],
    submitted_by: str,
    parties: frozenset[str],
    path: Path,
    container: str,
) -> TrackUpload:
    """A new queued TrackUpload row, flushed (its id known)."""
    filename = fields.get("filename")
    row = TrackUpload(
        state=QUEUED, progress_percent=0, title=metadata.title, artist=metadata.artist,
        isrc=metadata.isrc, iswc=metadata.iswc, external_id=metadata.external_id,
        shares_json=metadata.shares_json(), submitted_by=submitted_by,
        parties_json=json.dumps(sorted(parties)),
        filename=str(filename)[:500] if filename else None, container=container,
        file_path=str(path), size_bytes=0,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def store_file(stream: IO[bytes], directory: Path, bytes_max: int) -> tuple[Path, int, str]:
    """Copy `stream` into `directory` (path, size, container); UploadError, nothing left
    behind, when it is empty, over `bytes_max` or no audio."""
    assert bytes_max > 0, bytes_max
    directory.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    partial = directory / f".{token}.partial"
    try:
        size_bytes, head = _copy_bounded(stream, partial, bytes_max)
        container = sniff_container(head)
        if size_bytes == 0:
            raise UploadError(["file: empty (0 bytes)"])
        if container is None:
            raise UploadError(["file: not audio (no audio container starts this way)"])
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    final = directory / f"{token}.{container}"
    os.replace(partial, final)
    return final, size_bytes, container


def _copy_bounded(stream: IO[bytes], path: Path, bytes_max: int) -> tuple[int, bytes]:
    """Write `stream` to `path` (owner only); (bytes written, its first SNIFF_BYTES); UploadError
    as soon as it passes `bytes_max`."""
    size_bytes, head = 0, b""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(COPY_CHUNK_BYTES):
            size_bytes += len(chunk)
            if size_bytes > bytes_max:
                raise UploadError(
                    [f"file: too large: over {bytes_max} bytes (ZAMIO_UPLOAD_BYTES_MAX)"]
                )
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            out.write(chunk)
    return size_bytes, head


def visible(row: TrackUpload, parties: frozenset[str] | None) -> bool:
    """Whether a caller scoped to `parties` (None: everything) may see the upload."""
    return parties is None or bool(set(json.loads(row.parties_json)) & parties)


def recent_uploads(
    session: Session, parties: frozenset[str] | None, limit: int = RECENT_UPLOADS_MAX
) -> list[UploadStatus]:
    """The newest uploads the caller may see (of one of `parties`; None: all), newest first."""
    assert 1 <= limit <= RECENT_UPLOADS_MAX, limit
    if parties is not None and not parties:
        return []
    query = select(TrackUpload).order_by(TrackUpload.id.desc()).limit(limit)
    if parties is not None:  # parties_json is a JSON list: each code appears quoted in it
        query = query.where(
            or_(*[
                TrackUpload.parties_json.contains(json.dumps(p), autoescape=True)
                for p in sorted(parties)
            ])
        )  # fmt: skip
    return [status_of(session, row) for row in session.scalars(query) if visible(row, parties)]


def upload_status(
    session: Session, upload_id: int, parties: frozenset[str] | None
) -> UploadStatus | None:
    """The status of an upload the caller may see, or None (unknown, or another party's)."""
    row = session.get(TrackUpload, upload_id)
    if row is None or not visible(row, parties):
        return None
    return status_of(session, row)


def status_of(session: Session, row: TrackUpload) -> UploadStatus:
    """An upload's status: its row, its review's id and its track's external id."""
    review_id = session.scalar(select(TrackReview.id).where(TrackReview.upload_id == row.id))
    track = session.get(Track, row.track_id) if row.track_id is not None else None
    return UploadStatus(
        id=row.id, job_id=queues.upload_job_id(row.id), state=row.state,
        progress_percent=row.progress_percent, error=row.error, title=row.title,
        artist=row.artist, isrc=row.isrc, iswc=row.iswc, submitted_by=row.submitted_by,
        size_bytes=row.size_bytes, track_id=row.track_id,
        track_external_id=track.external_id if track else None, review_id=review_id,
        created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip
