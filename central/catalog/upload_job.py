"""The RQ job of an upload: process_upload(upload_id) decodes the stored file exactly as the
importer does (container whitelist, TRACK_DURATION_S_MAX, too short, silent, too few
landmarks), fingerprints it, and checks whether its recording is registered already:

1. the same decoded audio (content hash), or the same recording by the importer's
   near-duplicate rule (30 s or more of it found playing inside the upload, near_duplicates.py);
2. a match with a track one of the uploader's parties holds a share of: failed, "already
   registered as <external id>";
3. a match with tracks none of whose shares are the uploader's: `review` (a TrackReview of the
   longest shared span waits for an operator, review.py);
4. no match: the track is registered with the upload's rights shares (royalties pay them).

A failed upload keeps no track, no shares and no file. The job is idempotent: it does nothing
to an upload past the working states, and the final step runs under a lock on the upload row.
sweep_uploads (scheduled) enqueues the job again for an upload whose job was lost.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rq.job import Job
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central import queues
from central.catalog import store, upload_notices
from central.catalog.analysis import Analysis, analyse_samples, landmark_problem
from central.catalog.models import Track, TrackNearDuplicate
from central.catalog.near_duplicates import near_duplicates
from central.catalog.upload_checks import external_id_choices
from central.catalog.upload_models import (
    FAILED,
    PENDING,
    PROGRESS_PERCENT,
    REGISTERED,
    REVIEW,
    SAME_AUDIO,
    SAME_RECORDING,
    WORKING_STATES,
    TrackReview,
    TrackUpload,
)
from central.errors import FingerprintVersionError
from central.extensions import db, utc_now
from central.matching.jobs import current_index
from central.royalties.errors import SharesError
from central.royalties.models import RightsShare
from central.royalties.rights import parse_shares
from central.royalties.store import set_track_shares
from central.worker import worker_app, worker_queue
from edge_agent.decode import FFMPEG, FFPROBE, TRACK_DURATION_S_MAX, decode_file
from edge_agent.errors import DecodeError
from edge_agent.fingerprint import FINGERPRINT_VERSION, SAMPLE_RATE_HZ

logger = logging.getLogger(__name__)

NO_TRACK = -1  # the track id an unregistered upload is matched as
STALE_S = 1200  # a working upload unchanged this long lost its job (UPLOAD_JOB_S_MAX is 900)
SWEEP_UPLOADS_MAX = 500
REGISTRATION_LOCK = 0x7A616D_55504C  # "zam" "UPL": the advisory lock key of settle
TOOLS_MISSING = (f"{FFMPEG} not found", f"{FFPROBE} not found")


@dataclass(frozen=True)
class Claim:
    """A registered track the upload's recording matched, and whether the uploader owns it."""

    track_id: int
    external_id: str
    reason: str  # SAME_AUDIO | SAME_RECORDING
    shared_start_ms: int  # in the upload
    shared_ms: int
    owned: bool


def process_upload(upload_id: int) -> str:
    """RQ job: process one stored upload (a second run changes nothing); its state."""
    with worker_app().app_context():
        return run_upload(db.session, upload_id, FINGERPRINT_VERSION)


def run_upload(session: Session, upload_id: int, fingerprint_version: int) -> str:
    """Decode, fingerprint, check and settle one upload, committing each step; its state."""
    row = session.get(TrackUpload, upload_id)
    if row is None:
        logger.warning("upload %d: not found", upload_id)
        return "missing"
    if row.state not in WORKING_STATES:
        return row.state
    parties = frozenset(json.loads(row.parties_json))
    result = analyse_upload(session, row)
    if isinstance(result, str):
        return fail_upload(session, upload_id, result)
    set_progress(session, upload_id, "checking")
    for _ in range(2):  # again once if the same audio was registered meanwhile (an import)
        try:
            return settle(session, upload_id, result, parties, fingerprint_version)
        except IntegrityError:
            session.rollback()
        # a FingerprintVersionError (a catalogue of another version) is the operator's to fix:
        # it fails the job, not the upload, which keeps its file for `rq requeue`
    return fail_upload(session, upload_id, "registered meanwhile by another upload: send it again")


def analyse_upload(session: Session, row: TrackUpload) -> Analysis | str:
    """The Analysis of the upload's stored file (progress noted), or why it has none."""
    upload_id = row.id
    if row.file_path is None or not Path(row.file_path).is_file():
        return "the stored file is missing"
    path = Path(row.file_path)
    set_progress(session, upload_id, "decoding")
    try:
        samples = decode_file(path, SAMPLE_RATE_HZ, duration_s_max=TRACK_DURATION_S_MAX)
    except DecodeError as error:
        if str(error).startswith(TOOLS_MISSING):  # the server's fault: keep the upload
            raise
        return str(error).replace(f"{path}: ", "")
    set_progress(session, upload_id, "fingerprinting")
    analysis = analyse_samples(samples)
    problem = landmark_problem(analysis.fingerprints, analysis.duration_ms)
    return problem or analysis


def set_progress(session: Session, upload_id: int, state: str) -> None:
    """Move a working upload to `state` and commit (a settled one is left alone)."""
    session.execute(
        update(TrackUpload)
        .where(TrackUpload.id == upload_id, TrackUpload.state.in_(WORKING_STATES))
        .values(state=state, progress_percent=PROGRESS_PERCENT[state], updated_at=utc_now())
    )
    session.commit()


def find_claims(
    session: Session, analysis: Analysis, parties: frozenset[str], fingerprint_version: int
) -> list[Claim]:
    """The registered tracks the upload's recording matched: the same audio, else every track
    found playing inside it for 30 s or more (longest shared span first)."""
    same = store.find_by_content_hash(session, analysis.content_hash)
    if same is not None:
        owned = bool(track_parties(session, same.id) & parties)
        return [Claim(same.id, same.external_id, SAME_AUDIO, 0, analysis.duration_ms, owned)]
    index = current_index(session) if fingerprint_version == FINGERPRINT_VERSION else None
    if index is None:
        raise FingerprintVersionError(f"no index of fingerprint version {fingerprint_version}")
    best: dict[int, Claim] = {}
    for play in near_duplicates([index], NO_TRACK, analysis.fingerprints):
        track = play.track
        shared_ms = round(play.duration_s * 1000)
        if track.track_id in best and best[track.track_id].shared_ms >= shared_ms:
            continue
        owned = bool(track_parties(session, track.track_id) & parties)
        best[track.track_id] = Claim(
            track.track_id, track.external_id, SAME_RECORDING, round(play.start_s * 1000),
            shared_ms, owned,
        )  # fmt: skip
    return sorted(best.values(), key=lambda c: (-c.shared_ms, c.track_id))


def track_parties(session: Session, track_id: int) -> set[str]:
    """Every party holding a share of the track."""
    query = select(RightsShare.party).where(
        RightsShare.track_id == track_id, RightsShare.party.is_not(None)
    )
    return set(session.scalars(query))


def settle(
    session: Session,
    upload_id: int,
    analysis: Analysis,
    parties: frozenset[str],
    fingerprint_version: int,
) -> str:
    """Under the registration lock and a lock on the upload, check the catalogue as it is now
    and fail the upload (owned match), hold it for review (another's) or register it; commit;
    the state. IntegrityError if an import registered the same audio meanwhile."""
    lock_registrations(session)
    row = session.get(TrackUpload, upload_id, with_for_update=True, populate_existing=True)
    assert row is not None, upload_id
    if row.state not in WORKING_STATES:
        session.rollback()
        return row.state
    claims = find_claims(session, analysis, parties, fingerprint_version)
    row.content_hash, row.duration_ms = analysis.content_hash, analysis.duration_ms
    owned = [c for c in claims if c.owned]
    if owned:
        return fail_upload(session, upload_id, f"already registered as {owned[0].external_id}")
    if claims:
        open_review(session, row, claims[0])
        upload_notices.held_for_review(session, row, claims[0].external_id)
        session.commit()
        return REVIEW
    problem = register_upload(session, row, analysis, fingerprint_version)
    if problem:
        return fail_upload(session, upload_id, problem)
    upload_notices.registered(session, row, _external_id(session, row.track_id))
    session.commit()
    logger.info("upload %d: registered as track %d", upload_id, row.track_id)
    return REGISTERED


def _external_id(session: Session, track_id: int | None) -> str:
    """The external id of a registered track."""
    track = None if track_id is None else session.get(Track, track_id)
    return track.external_id if track is not None else "?"


def lock_registrations(session: Session) -> None:
    """On PostgreSQL, take the transaction's lock on registering uploads: two workers checking
    two uploads of one recording at once would each find the catalogue without the other's and
    both register. (SQLite: one writer at a time, and the inline queue runs one job at once.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REGISTRATION_LOCK})


def open_review(session: Session, row: TrackUpload, claim: Claim) -> TrackReview:
    """Hold the upload for a decision on its longest match."""
    review = TrackReview(
        upload_id=row.id, matched_track_id=claim.track_id, reason=claim.reason,
        shared_start_ms=claim.shared_start_ms, shared_ms=claim.shared_ms, state=PENDING,
    )  # fmt: skip
    session.add(review)
    row.state, row.progress_percent, row.updated_at = REVIEW, 100, utc_now()
    session.flush()
    logger.info("upload %d: same recording as track %s: review", row.id, claim.external_id)
    return review


def register_upload(
    session: Session,
    row: TrackUpload,
    analysis: Analysis,
    fingerprint_version: int,
    link: Claim | None = None,
) -> str | None:
    """Register the upload's track with its shares (and a same-recording `link`), in a
    savepoint; None, or why not (nothing of it left). The caller commits."""
    external_id = free_external_id(session, row)
    if external_id is None:
        return f"external id {row.external_id} is already registered"
    pools, problems = parse_shares(json.loads(row.shares_json))
    assert not problems, problems  # checked at submission
    try:
        with session.begin_nested():
            track = store.register_track(
                session, external_id=external_id, title=row.title, artist=row.artist,
                isrc=row.isrc, iswc=row.iswc, duration_ms=analysis.duration_ms,
                content_hash=analysis.content_hash, fingerprints=analysis.fingerprints,
                fingerprint_version=fingerprint_version,
            )  # fmt: skip
            for pool in pools:
                set_track_shares(session, track.id, pool)
            if link is not None:
                _link(session, track.id, link)
    except SharesError as error:
        return f"shares refused: {error}"
    row.track_id, row.duration_ms = track.id, track.duration_ms
    row.state, row.progress_percent, row.error, row.updated_at = REGISTERED, 100, None, utc_now()
    session.flush()
    return None


def _link(session: Session, track_id: int, claim: Claim) -> None:
    """Record the approved upload's track and the matched one as one recording."""
    if claim.reason == SAME_RECORDING:
        session.add(
            TrackNearDuplicate(
                track_id=track_id, other_track_id=claim.track_id, shared_ms=claim.shared_ms
            )
        )
        session.flush()


def free_external_id(session: Session, row: TrackUpload) -> str | None:
    """The external id to register the upload as: the one it asked for, else the title's slug,
    else the slug made unique with the upload id; None when the one asked for is taken."""
    choices = (row.external_id,) if row.external_id else external_id_choices(row.title, row.id)
    for choice in choices:
        if store.find_by_external_id(session, choice) is None:
            return choice
    return None


def fail_upload(session: Session, upload_id: int, reason: str) -> str:
    """Mark a working upload failed with `reason`, commit, and delete its file; its state."""
    row = session.get(TrackUpload, upload_id, with_for_update=True, populate_existing=True)
    assert row is not None, upload_id
    if row.state not in WORKING_STATES:
        session.rollback()
        return row.state
    path = row.file_path
    row.state, row.progress_percent, row.updated_at = FAILED, 100, utc_now()
    row.error, row.file_path = reason[:500], None
    session.commit()
    delete_file(path)
    logger.info("upload %d: failed: %s", upload_id, reason)
    return FAILED


def delete_file(path: str | None) -> None:
    """Delete an upload's stored file, if there is one."""
    if path:
        Path(path).unlink(missing_ok=True)


def sweep_uploads() -> int:
    """Scheduled job: enqueue process_upload again for working uploads unchanged for STALE_S
    whose job is gone (Redis was down at the enqueue, or restarted empty); how many."""
    queue = worker_queue()
    cutoff = datetime.now(UTC) - timedelta(seconds=STALE_S)
    with worker_app().app_context():
        ids = stale_uploads(db.session, cutoff, SWEEP_UPLOADS_MAX)
        db.session.commit()
    lost = [i for i in ids if not Job.exists(queues.upload_job_id(i), queue.connection)]
    for upload_id in lost:
        queues.enqueue_process_upload(queue, upload_id)
    if lost:
        logger.warning("sweep_uploads: %d uploads had lost their job", len(lost))
    return len(lost)


def stale_uploads(session: Session, cutoff: datetime, limit: int) -> list[int]:
    """Ids of uploads in a working state last changed before `cutoff`, oldest first."""
    query = (
        select(TrackUpload.id)
        .where(TrackUpload.state.in_(WORKING_STATES), TrackUpload.updated_at < cutoff)
        .order_by(TrackUpload.updated_at, TrackUpload.id)
        .limit(limit)
    )
    return list(session.scalars(query))
