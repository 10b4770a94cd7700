"""Errors under /api as RFC 9457 problem details (`application/problem+json`): a title, the
status, a detail saying what to change and, for invalid input, the field-level reasons in
`errors` ({location: {field: [reason]}}). Elsewhere Flask's own pages."""

from __future__ import annotations

import logging
from typing import Any

from apiflask import HTTPError
from flask import Response, json
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

API_ROOT = "/api"
MEDIA_TYPE = "application/problem+json"

logger = logging.getLogger(__name__)

# RFC 9457's members; `errors` holds field-level reasons of invalid input
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object"},
    },
    "required": ["type", "title", "status"],
}


def under_api(path: str) -> bool:
    """True for /api and everything below it."""
    return path == API_ROOT or path.startswith(API_ROOT + "/")


def problem(
    status: int,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    errors: Any = None,
) -> Response:
    """A problem+json response of `status`."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_werkzeug(error: HTTPException) -> ResponseReturnValue:
    """An HTTP error under /api (400, 401, 404, 405, 429, 500...) as a problem, its headers
    kept (Allow, WWW-Authenticate, Retry-After)."""
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    challenge = getattr(error, "zamio_challenge", None)
    if isinstance(challenge, str):
        headers["WWW-Authenticate"] = challenge
    status = error.code or 500
    detail = error.description if status != 500 else "internal error: the operator's log has it"
    retry_after = getattr(error, "retry_after", None)
    if status == 429 and retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    return problem(status, detail, headers)


def from_apiflask(error: HTTPError) -> Response:
    """APIFlask's errors (invalid input: 400 with field-level reasons) as a problem."""
    detail = error.message if isinstance(error.message, str) else None
    if error.status_code == 400 and error.detail:
        detail = "; ".join(field_reasons(error.detail))
    return problem(error.status_code, detail, dict(error.headers or {}), error.detail or None)


def field_reasons(errors: Any) -> list[str]:
    """`field: reason` for each field-level reason of marshmallow's nested error dict (the
    location level left out)."""
    reasons = []
    for fields in errors.values() if isinstance(errors, dict) else ():
        for field, messages in fields.items() if isinstance(fields, dict) else ():
            texts = messages if isinstance(messages, list) else [messages]
            reasons += [f"{field}: {text}" for text in texts]
    return reasons[:20] or ["invalid input"]
