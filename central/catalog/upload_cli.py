"""`zamio catalog upload`, `zamio catalog upload-status` and `zamio catalog review list |
approve | reject`: the upload flow without the API."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from central import queues, schema, worker
from central.catalog import review
from central.catalog.upload_checks import default_shares
from central.catalog.upload_models import FAILED, PENDING, REVIEW_STATES
from central.catalog.uploads import UploadStatus, submit_upload, upload_status, uploads_dir
from central.errors import QueryError, ReviewError, UploadError
from central.extensions import db

review_cli = AppGroup("review", help="Uploads held because their recording is registered.")


def _actor() -> str:
    """Who decides or uploads from the command line: cli:<login name>."""
    return f"cli:{getpass.getuser()}"[:64]


def _shares(share: str | None, isrc: str | None, parties: tuple[str, ...]) -> Any:
    """The shares document of --share (JSON, or @FILE), or the parties' default master pool."""
    if share is None:
        if not isrc:
            raise click.UsageError("give --share, or --isrc for a master pool of the --party")
        return default_shares(isrc, parties)
    text = Path(share[1:]).read_text(encoding="utf-8") if share.startswith("@") else share
    try:
        return json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--share") from None


@click.command("upload")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="The track's title.")
@click.option("--artist", help="The performing artist, as shown.")
@click.option("--isrc", help="The recording's ISRC (the master pool's code).")
@click.option("--iswc", help="The composition's ISWC.")
@click.option("--id", "external_id", help="External id to register it as (default: from title).")
@click.option(
    "--party",
    "parties",
    multiple=True,
    required=True,
    help="A party code of the uploader (repeatable), e.g. artist:ama:earnings.",
)
@click.option(
    "--share",
    help="Rights shares document as JSON, or @FILE.json (default: the"
    " master pool shared by the --party values, which needs --isrc).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the upload's status as JSON.")
def upload_command(
    file: Path, title: str, artist: str | None, isrc: str | None, iswc: str | None,
    external_id: str | None, parties: tuple[str, ...], share: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Upload FILE to register it as a track; with no Redis it is processed at once. Exit 1
    when refused or failed."""
    schema.require_current_for_command(db.engine)
    settings = current_app.config["ZAMIO"]
    fields = {"title": title, "artist": artist, "isrc": isrc, "iswc": iswc,
              "external_id": external_id, "shares": _shares(share, isrc, parties),
              "filename": file.name}  # fmt: skip
    queue = queues.settings_queue(settings.redis_url)
    worker.use_app(current_app._get_current_object(), queue)  # inline jobs run here
    try:
        with file.open("rb") as stream:
            row = submit_upload(
                db.session, queue, stream, fields, submitted_by=_actor(),
                parties=frozenset(parties), directory=uploads_dir(settings),
                bytes_max=settings.upload_bytes_max,
            )  # fmt: skip
    except UploadError as error:
        raise click.ClickException("upload refused: " + "; ".join(error.problems)) from None
    status = upload_status(db.session, row.id, None)
    assert status is not None
    _show(status, as_json)
    if status.state == FAILED:
        click.get_current_context().exit(1)


@click.command("upload-status")
@with_appcontext
@click.argument("upload_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def upload_status_command(upload_id: int, as_json: bool) -> None:
    """Show where upload UPLOAD_ID stands."""
    schema.require_current_for_command(db.engine)
    status = upload_status(db.session, upload_id, None)
    if status is None:
        raise click.ClickException(f"no upload {upload_id}")
    _show(status, as_json)


def _show(status: UploadStatus, as_json: bool) -> None:
    """One line per upload (or its JSON)."""
    if as_json:
        click.echo(json.dumps(asdict(status), default=str, indent=2))
        return
    line = f"upload {status.id}: {status.state} ({status.progress_percent} %)"
    if status.track_external_id:
        line += f": track {status.track_external_id}"
    if status.review_id is not None:
        line += f": review {status.review_id}"
    if status.error:
        line += f": {status.error}"
    click.echo(line)


@review_cli.command("list")
@click.option("--state", type=click.Choice(REVIEW_STATES), default=PENDING, show_default=True)
@click.option("--limit", type=click.IntRange(1, review.REVIEWS_LIMIT_MAX), default=50)
@click.option("--cursor", help="next_cursor of the page before.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON page.")
def review_list(state: str, limit: int, cursor: str | None, as_json: bool) -> None:
    """List reviews (pending ones by default), oldest first."""
    schema.require_current_for_command(db.engine)
    try:
        page = review.pending_reviews(db.session, limit, cursor, state)
    except QueryError as error:
        raise click.BadParameter(str(error)) from None
    if as_json:
        rows = [asdict(r) for r in page.reviews]
        click.echo(json.dumps({"reviews": rows, "next_cursor": page.next_cursor}, default=str))
        return
    for r in page.reviews:
        click.echo(
            f"review {r.id}: upload {r.upload_id} {r.title!r} by {r.submitted_by}: {r.reason}"
            f" of {r.matched_external_id}, {r.shared_ms / 1000:.0f} s shared from"
            f" {r.shared_start_ms / 1000:.0f} s ({r.state})"
        )
    click.echo(f"{len(page.reviews)} reviews" + (f"; next: {page.next_cursor}" * bool(
        page.next_cursor)))  # fmt: skip


@review_cli.command("approve")
@click.argument("review_id", type=int)
@click.option("--note", help="Why (kept with the decision).")
def review_approve(review_id: int, note: str | None) -> None:
    """Approve review REVIEW_ID: register its upload with its shares."""
    schema.require_current_for_command(db.engine)
    try:
        upload = review.approve_review(db.session, review_id, _actor(), note)
    except ReviewError as error:
        raise click.ClickException(str(error)) from None
    status = upload_status(db.session, upload.id, None)
    assert status is not None
    click.echo(f"review {review_id}: approved; upload {upload.id} registered as track"
               f" {status.track_external_id}")  # fmt: skip


@review_cli.command("reject")
@click.argument("review_id", type=int)
@click.option("--note", help="Why (kept with the decision, shown to the uploader).")
def review_reject(review_id: int, note: str | None) -> None:
    """Reject review REVIEW_ID: its upload is rejected and its file deleted."""
    schema.require_current_for_command(db.engine)
    try:
        upload = review.reject_review(db.session, review_id, _actor(), note)
    except ReviewError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"review {review_id}: rejected; upload {upload.id} rejected")
