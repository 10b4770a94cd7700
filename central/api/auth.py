"""Bearer-token authentication of the API: one shared token, ZAMIO_API_TOKEN, compared in
constant time. No token configured: every request is refused, the API is never open."""

from __future__ import annotations

import hmac
import logging

from flask import Response, current_app, request

from central.api.responses import error_response, under_api

logger = logging.getLogger(__name__)

REALM = "zamio"


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme in any case), or None."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def token_matches(given: str, expected: str) -> bool:
    """Whether `given` is `expected`, in time that does not depend on where they differ."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def guard_api() -> Response | None:
    """Before every request of the app: under /api, require_token, before routing's own 404 or
    405 (so an unknown path or method tells nothing to a client without the token)."""
    if not under_api(request.path):
        return None
    return require_token()


def require_token() -> Response | None:
    """Before each API request: None to go on, or the 503/401 response that ends it."""
    expected = current_app.config["ZAMIO"].api_token
    if expected is None:
        return error_response(
            503, "the API is disabled: set ZAMIO_API_TOKEN on the server to enable it"
        )
    given = bearer_token(request.headers.get("Authorization"))
    if given is None:
        return _unauthorized("send the header `Authorization: Bearer <token>`", None)
    if not token_matches(given, expected):
        logger.info(
            "api: %s %s from %s refused: wrong token",
            request.method,
            request.path,
            request.remote_addr,
        )
        return _unauthorized("wrong bearer token", "invalid_token")
    return None


def _unauthorized(message: str, error_code: str | None) -> Response:
    """401 with the WWW-Authenticate challenge of RFC 6750."""
    challenge = f'Bearer realm="{REALM}"'
    if error_code is not None:
        challenge += f', error="{error_code}"'
    return error_response(401, message, [("WWW-Authenticate", challenge)])
