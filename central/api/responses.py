"""JSON error bodies for everything under /api (400, 401, 404, 405, 500, 503...), so a client
never gets HTML or a traceback."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from central.errors import QueryError

API_ROOT = "/api"


def error_response(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """{"error": message, "status": status} with `status` and extra `headers`."""
    response = jsonify(error=message, status=status)
    response.status_code = status
    for name, value in headers:
        response.headers[name] = value
    return response


def query_error(error: QueryError) -> Response:
    """400 saying which parameter is wrong and what would do."""
    return error_response(400, str(error))


def http_error(error: HTTPException) -> ResponseReturnValue:
    """Under /api: the HTTP error (404, 405, 500...) as JSON, its headers kept (Allow); elsewhere
    Flask's own page."""
    if not under_api(request.path):
        return error
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    return error_response(error.code or 500, error.description or error.name, headers)


def under_api(path: str) -> bool:
    """True for /api and everything below it."""
    return path == API_ROOT or path.startswith(API_ROOT + "/")
