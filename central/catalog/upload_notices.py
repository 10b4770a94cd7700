"""What people are told when an upload settles: its uploader (an API or console user,
`submitted_by` "user:<id>") that it is registered, held for review, or that the review decided;
the admins that a review waits for them. Called in the transaction that settles the upload
(central/notifications: sent after its commit; once per upload and outcome)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from central.auth.models import User
from central.catalog.upload_models import TrackUpload
from central.notifications import notify
from central.notifications.recipients import admins

USER_ACTOR = "user:"


def uploader_ids(session: Session, upload: TrackUpload) -> list[int]:
    """The active user who sent the upload, if a user did (a CLI upload has none)."""
    actor = upload.submitted_by or ""
    if not actor.startswith(USER_ACTOR) or not actor[len(USER_ACTOR) :].isdigit():
        return []
    user = session.get(User, int(actor[len(USER_ACTOR) :]))
    return [user.id] if user is not None and user.active else []


def registered(session: Session, upload: TrackUpload, external_id: str) -> None:
    """The upload is now track `external_id` (directly, or by an approved review)."""
    notify(
        session, "upload.registered", uploader_ids(session, upload),
        f"{upload.title} is registered",
        f"Your upload {upload.title!r} is registered as track {external_id}; its plays are paid"
        " to its rights shares from now on.",
        data={"upload_id": upload.id, "track_id": upload.track_id, "external_id": external_id},
        dedupe_key=f"upload:{upload.id}", link=f"/tracks/uploads/{upload.id}",
    )  # fmt: skip


def held_for_review(session: Session, upload: TrackUpload, matched_external_id: str) -> None:
    """The upload's recording is registered to other parties: an admin decides."""
    data = {"upload_id": upload.id, "matched": matched_external_id}
    notify(
        session, "upload.review", uploader_ids(session, upload),
        f"{upload.title} waits for a review",
        f"Your upload {upload.title!r} sounds like track {matched_external_id}, which other"
        " parties registered; an operator reviews it and you will hear the decision.",
        data=data, dedupe_key=f"upload:{upload.id}", link=f"/tracks/uploads/{upload.id}",
    )  # fmt: skip
    notify(
        session, "upload.review", admins(session), f"Review: {upload.title}",
        f"The upload {upload.title!r} ({upload.submitted_by}) sounds like track"
        f" {matched_external_id}: approve it as the same recording, or reject it.",
        data=data, dedupe_key=f"upload:{upload.id}", link="/admin/reviews",
    )  # fmt: skip


def rejected(session: Session, upload: TrackUpload, note: str | None) -> None:
    """The review rejected the upload."""
    notify(
        session, "upload.review", uploader_ids(session, upload), f"{upload.title} was rejected",
        f"The review of your upload {upload.title!r} rejected it"
        + (f": {note}" if note else "."),
        data={"upload_id": upload.id, "decision": "rejected"},
        dedupe_key=f"upload:{upload.id}:rejected", link=f"/tracks/uploads/{upload.id}",
    )  # fmt: skip
