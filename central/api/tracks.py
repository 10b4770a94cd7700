"""Tracks, uploads and their reviews: artists and rights holders list their tracks and register
new ones by upload (202 and a job to poll); admins decide the reviews of uploads whose
recording is registered to other parties. Thin over central/catalog."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from apiflask import APIBlueprint, Schema, fields, validators
from flask import current_app, request, url_for
from werkzeug.exceptions import BadRequest, Conflict, NotFound, RequestEntityTooLarge

from central import worker
from central.api.idempotency import idempotent
from central.api.schemas import Strict, cursor_field, limit_field
from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN, ARTIST, AUDITOR, RIGHTS_HOLDER
from central.catalog import queries, review
from central.catalog.models import EXTERNAL_ID_CHARS_MAX, TEXT_CHARS_MAX
from central.catalog.upload_models import REVIEW_STATES
from central.catalog.uploads import UploadStatus, register_upload, too_large, upload_status
from central.errors import ReviewError, UploadError
from central.extensions import db
from central.times import iso_datetime

blueprint = APIBlueprint("tracks", __name__, url_prefix="/api/v1", tag="Tracks")
READERS = (ADMIN, AUDITOR, ARTIST, RIGHTS_HOLDER)
UPLOADERS = (ADMIN, ARTIST, RIGHTS_HOLDER)
FORM_BYTES_MAX = 64 * 1024  # a request's fields and multipart framing, beside the file
SHARES_CHARS_MAX = 20_000


class PoolOut(Schema):
    """One pool of a track's rights: its work code and shares."""

    work_code = fields.String(required=True)
    shares = fields.List(fields.Dict(), required=True)


class TrackOut(Schema):
    """A registered track and its rights shares by pool (composition, master)."""

    id = fields.Integer(required=True)
    external_id = fields.String(required=True)
    title = fields.String(required=True)
    artist = fields.String(allow_none=True)
    isrc = fields.String(allow_none=True)
    iswc = fields.String(allow_none=True)
    duration_ms = fields.Integer(required=True)
    created_at = fields.String(allow_none=True)
    shares = fields.Dict(keys=fields.String(), values=fields.Nested(PoolOut), required=True)


class TrackPage(Schema):
    """One page of the caller's tracks, by id."""

    tracks = fields.List(fields.Nested(TrackOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class TracksQuery(Strict):
    """q (a search of title, artist and external id), limit and cursor."""

    q = fields.String(
        validate=validators.Length(1, queries.SEARCH_CHARS_MAX),
        metadata={"description": "only tracks whose title, artist or external id contain it"},
    )
    limit = limit_field(100, queries.TRACKS_LIMIT_MAX)
    cursor = cursor_field()


class UploadForm(Schema):
    """A track to register: the audio file and its metadata; `shares` is a rights shares
    document as JSON (the shape of `zamio royalty shares set`), one of whose parties must be
    yours."""

    file = fields.File(required=True, metadata={"description": "the audio (WAV, FLAC, MP3, ...)"})
    title = fields.String(required=True, validate=validators.Length(1, TEXT_CHARS_MAX))
    artist = fields.String(validate=validators.Length(0, TEXT_CHARS_MAX))
    isrc = fields.String(validate=validators.Length(0, 32))
    iswc = fields.String(validate=validators.Length(0, 32))
    external_id = fields.String(validate=validators.Length(0, EXTERNAL_ID_CHARS_MAX))
    shares = fields.String(required=True, validate=validators.Length(2, SHARES_CHARS_MAX))


class JobOut(Schema):
    """An upload's processing: where it stands (queued, decoding, fingerprinting, checking,
    then registered, review, rejected or failed), and what became of it."""

    id = fields.Integer(required=True, metadata={"description": "the upload's id"})
    job_id = fields.String(required=True)
    kind = fields.String(required=True)
    state = fields.String(required=True)
    progress_percent = fields.Integer(required=True)
    error = fields.String(allow_none=True)
    title = fields.String(required=True)
    artist = fields.String(allow_none=True)
    isrc = fields.String(allow_none=True)
    iswc = fields.String(allow_none=True)
    submitted_by = fields.String(required=True)
    size_bytes = fields.Integer(required=True)
    track_id = fields.Integer(allow_none=True)
    track_external_id = fields.String(allow_none=True)
    review_id = fields.Integer(allow_none=True)
    created_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)


class ReviewOut(Schema):
    """A review: the upload, the registered track it matched, the span they share."""

    id = fields.Integer(required=True)
    upload_id = fields.Integer(required=True)
    title = fields.String(required=True)
    submitted_by = fields.String(required=True)
    matched_track_id = fields.Integer(required=True)
    matched_external_id = fields.String(required=True)
    matched_title = fields.String(required=True)
    reason = fields.String(required=True)
    shared_start_ms = fields.Integer(required=True)
    shared_ms = fields.Integer(required=True)
    state = fields.String(required=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)


class ReviewPage(Schema):
    """One page of reviews, oldest first."""

    reviews = fields.List(fields.Nested(ReviewOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ReviewsQuery(Strict):
    """state (default pending), limit, cursor."""

    state = fields.String(load_default="pending", validate=validators.OneOf(REVIEW_STATES))
    limit = limit_field(50, review.REVIEWS_LIMIT_MAX)
    cursor = cursor_field()


class DecisionIn(Schema):
    """Why the review was decided so (kept with it)."""

    note = fields.String(validate=validators.Length(0, review.NOTE_CHARS_MAX))


@blueprint.get("/tracks")
@policy(READERS, scope="catalog:read")
@blueprint.input(TracksQuery, location="query", arg_name="args")
@blueprint.output(TrackPage)
def track_list(args: dict[str, Any]) -> dict[str, Any]:
    """The tracks the caller's parties hold shares of (every track for admins and auditors)."""
    page = queries.party_tracks(
        db.session, current_principal().parties, args["limit"], args.get("cursor"), args.get("q")
    )
    return {"tracks": page.tracks, "next_cursor": page.next_cursor}


@blueprint.get("/tracks/<int:track_id>")
@policy(READERS, scope="catalog:read", owner="track")
@blueprint.output(TrackOut)
@blueprint.doc(responses=[404])
def track_detail(track_id: int) -> dict[str, Any]:
    """One track with its rights shares."""
    track = queries.find_track(db.session, track_id, current_principal().parties)
    if track is None:
        raise NotFound(f"no track {track_id}")
    return queries.track_record(db.session, track)


def bounded(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse a request body over ZAMIO_UPLOAD_BYTES_MAX (and its fields) with 413 before
    anything reads it."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        limit = current_app.config["ZAMIO"].upload_bytes_max + FORM_BYTES_MAX
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge(
                f"the upload is over {limit} bytes (ZAMIO_UPLOAD_BYTES_MAX and its form)"
            )
        return view(*args, **kwargs)

    return wrapper


@blueprint.post("/tracks")
@policy(UPLOADERS, scope="catalog:write")
@bounded
@blueprint.input(UploadForm, location="form_and_files", arg_name="form")
@blueprint.output(JobOut, status_code=202)
@blueprint.doc(responses=[400, 409, 413])
@idempotent
def track_upload(form: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Upload a track to register: checked at once (400 with every reason), then decoded,
    fingerprinted and checked against the catalogue by a job; poll the job's Location."""
    principal = current_principal()
    fields_given = {k: form.get(k) for k in ("title", "artist", "isrc", "iswc", "external_id")}
    fields_given["shares"] = _shares_document(form["shares"])
    fields_given["filename"] = form["file"].filename
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        row = register_upload(
            db.session, worker.app_queue(app), form["file"].stream, fields_given,
            actor=principal.actor, via="api", parties=principal.parties,
            settings=app.config["ZAMIO"],
        )  # fmt: skip
    except UploadError as error:
        raise (RequestEntityTooLarge if too_large(error) else BadRequest)(str(error)) from None
    record = _job_record(_status(row.id, None))
    return record, 202, {"Location": url_for("tracks.job_detail", job_id=row.id)}


def _shares_document(text: str) -> Any:
    """The shares field as JSON, or 400."""
    try:
        return json.loads(text)
    except ValueError as error:
        raise BadRequest(f"shares: not JSON: {error}") from None


@blueprint.get("/jobs/<int:job_id>")
@policy(READERS, scope="catalog:read")
@blueprint.output(JobOut)
@blueprint.doc(responses=[404])
def job_detail(job_id: int) -> dict[str, Any]:
    """An upload's processing, by the upload's id: one of the caller's parties' uploads."""
    return _job_record(_status(job_id, current_principal().parties))


def _status(upload_id: int, parties: frozenset[str] | None) -> UploadStatus:
    """The upload's status, or NotFound (404)."""
    status = upload_status(db.session, upload_id, parties)
    if status is None:
        raise NotFound(f"no job {upload_id}")
    return status


def _job_record(status: UploadStatus) -> dict[str, Any]:
    """An upload's status as JobOut."""
    record = asdict(status)
    record["kind"] = "track_upload"
    record["created_at"] = iso_datetime(status.created_at)
    record["updated_at"] = iso_datetime(status.updated_at)
    return record


@blueprint.get("/reviews")
@policy([ADMIN], scope="admin")
@blueprint.input(ReviewsQuery, location="query", arg_name="args")
@blueprint.output(ReviewPage)
def review_list(args: dict[str, Any]) -> dict[str, Any]:
    """Reviews of uploads whose recording is registered to others (pending by default)."""
    page = review.pending_reviews(db.session, args["limit"], args.get("cursor"), args["state"])
    return {"reviews": [_review_record(r) for r in page.reviews], "next_cursor": page.next_cursor}


@blueprint.post("/reviews/<int:review_id>/approve")
@policy([ADMIN], scope="admin")
@blueprint.input(DecisionIn, arg_name="body")
@blueprint.output(JobOut)
@blueprint.doc(responses=[404, 409])
@idempotent
def review_approve(review_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Approve: the upload is registered with its shares, linked to the matched track."""
    return _decide(review_id, body.get("note"), "approve")


@blueprint.post("/reviews/<int:review_id>/reject")
@policy([ADMIN], scope="admin")
@blueprint.input(DecisionIn, arg_name="body")
@blueprint.output(JobOut)
@blueprint.doc(responses=[404, 409])
@idempotent
def review_reject(review_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Reject: the upload is rejected and its file deleted."""
    return _decide(review_id, body.get("note"), "reject")


def _decide(review_id: int, note: str | None, decision: str) -> Any:
    """Make the decision as the caller, audited; 404 for no review, 409 when it cannot be."""
    if review.review_summary(db.session, review_id) is None:
        raise NotFound(f"no review {review_id}")
    try:
        upload = review.decide(db.session, review_id, decision, current_principal().actor, "api",
                               note)  # fmt: skip
    except ReviewError as error:
        db.session.rollback()
        raise Conflict(str(error)) from None
    return _job_record(_status(upload.id, None))


def _review_record(summary: review.ReviewSummary) -> dict[str, Any]:
    """A review as ReviewOut."""
    record = asdict(summary)
    record["decided_at"] = iso_datetime(summary.decided_at)
    record["created_at"] = iso_datetime(summary.created_at)
    return record
