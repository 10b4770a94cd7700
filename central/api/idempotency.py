"""`Idempotency-Key` on POSTs that create records or move money: the same key and body get the
first response again (`Idempotent-Replayed: true`); the same key with another body, or while the
first is still running, gets 409. Keys are per caller, kept `KEEP_DAYS`."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, make_response, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, Conflict

from central.auth.models import IDEMPOTENCY_KEEP_DAYS, IdempotencyRecord
from central.auth.policy import current_principal
from central.extensions import db

HEADER = "Idempotency-Key"
KEY_CHARS_MAX = 200
IN_PROGRESS = 0
KEEP_DAYS = IDEMPOTENCY_KEEP_DAYS
ATTRIBUTE = "_zamio_idempotent"
FILE_CHUNK_BYTES = 1 << 20
F = TypeVar("F", bound=Callable[..., Any])


def request_hash() -> str:
    """The sha-256 of what makes two requests the same: method, path, query and body."""
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode("utf-8", "replace") + b"\0")
    if request.mimetype == "multipart/form-data":
        _multipart_digest(digest)
    else:
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _multipart_digest(digest: Any) -> None:
    """Each field and file of a multipart body: its boundary is chosen anew by the client for
    every request, retries included, and files are read from where the parser spooled them."""
    for name, value in sorted(request.form.items(multi=True)):
        digest.update(json.dumps(["field", name, value]).encode() + b"\0")
    for name, storage in sorted(request.files.items(multi=True), key=lambda item: item[0]):
        digest.update(json.dumps(["file", name, storage.filename]).encode() + b"\0")
        while chunk := storage.stream.read(FILE_CHUNK_BYTES):
            digest.update(chunk)
        storage.stream.seek(0)


def idempotent(view: F) -> F:
    """Make a POST view honour Idempotency-Key (optional; without it each request is new)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not key or len(key) > KEY_CHARS_MAX or not key.isprintable():
            raise BadRequest(f"{HEADER}: 1-{KEY_CHARS_MAX} printable characters")
        record, replay = _claim(current_principal().actor, key, request_hash())
        if replay is not None:
            return replay
        try:
            response = make_response(view(*args, **kwargs))
        except Exception:
            _release(record)
            raise
        _settle(record, response)
        return response

    setattr(wrapper, ATTRIBUTE, True)
    return wrapper  # type: ignore[return-value]


def _claim(caller: str, key: str, digest: str) -> tuple[IdempotencyRecord | None, Any]:
    """(our new in-progress record, None), or (None, the stored response to replay)."""
    db.session.rollback()
    found = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.caller == caller, IdempotencyRecord.key == key
        )
    )
    if found is None:
        record = IdempotencyRecord(
            caller=caller,
            key=key,
            request_hash=digest,
            status=IN_PROGRESS,
            body=b"",
            content_type="",
        )
        db.session.add(record)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise Conflict(f"{HEADER} {key[:40]!r}: a request with it is in progress") from None
        return record, None
    if found.request_hash != digest:
        raise Conflict(f"{HEADER} {key[:40]!r}: already used for another request")
    if found.status == IN_PROGRESS:
        raise Conflict(f"{HEADER} {key[:40]!r}: a request with it is in progress")
    replay = Response(found.body, status=found.status, content_type=found.content_type)
    replay.headers["Idempotent-Replayed"] = "true"
    return None, replay


def _settle(record: IdempotencyRecord | None, response: Response) -> None:
    """Keep the response for replays; a server error is not kept (the client may retry)."""
    if record is None:
        return
    db.session.rollback()
    record = db.session.merge(record)
    if response.status_code >= 500:
        db.session.delete(record)
    else:
        record.status = response.status_code
        record.body = response.get_data()
        record.content_type = response.content_type or "application/json"
    db.session.commit()


def _release(record: IdempotencyRecord | None) -> None:
    """Forget the claim of a request that failed with an exception."""
    if record is None:
        return
    db.session.rollback()
    db.session.delete(db.session.merge(record))
    db.session.commit()


def is_idempotent(view: Callable[..., Any]) -> bool:
    """Whether a view (through any decorators that kept its attributes) honours the header."""
    seen: Any = view
    while seen is not None:
        if getattr(seen, ATTRIBUTE, False):
            return True
        seen = getattr(seen, "__wrapped__", None)
    return False
