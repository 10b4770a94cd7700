"""The web console: server-rendered pages by audience (admin, station, artist) over the same
domain functions and the same `@policy` check as the API. Sessions are Flask-Login's (signed
cookie, `session.py`); every form carries Flask-WTF's CSRF token; pages swap fragments with
htmx 2 and draw charts with Chart.js, both served from the package (`static/vendor/`)."""

from __future__ import annotations

import importlib
import logging
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, InternalServerError

from central.api.problems import under_api
from central.auth import policy, roles
from central.auth.policy import Principal
from central.console import session, templating

logger = logging.getLogger(__name__)

# Modules whose `blueprint` is the console's (each audience adds its line).
AUDIENCE_MODULES = (
    "central.console.views",
    "central.console.admin",
    "central.console.station",
    "central.console.live",
    "central.console.artist",
    "central.console.payouts",
    "central.console.funding",
    "central.console.inbox",
)
STATIC_ENDPOINT = "console.static"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Scripts and styles only from the console's own files: no inline script can run, so an
# injected string is text, not code. htmx is told not to use eval or inline styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
CSRF_REFUSED = (
    "This form was sent without its security token, or with an old one."
    " Go back, reload the page and send it again."
)
csrf = CSRFProtect()


def register(app: Flask) -> None:
    """The console's blueprints, sessions, CSRF, guard, headers and error pages, on `app`."""
    session.init_app(app, app.config["ZAMIO"])
    csrf.init_app(app)
    names = set()
    for name in AUDIENCE_MODULES:
        blueprint: Blueprint = importlib.import_module(name).blueprint
        app.register_blueprint(blueprint)
        names.add(blueprint.name)
    app.extensions["zamio_console"] = frozenset(names)
    templating.init_app(app)
    app.before_request(_guard)
    app.after_request(_headers)


def blueprints() -> frozenset[str]:
    """The names of the console's blueprints."""
    return current_app.extensions["zamio_console"]


def is_console_request() -> bool:
    """Whether this request is for a console page (not the API, /health or a static file)."""
    return request.blueprint in blueprints()


def _guard() -> ResponseReturnValue | None:
    """Before every console request: the view's policy, with the logged-in user as principal
    (the API's check, `policy.authorize`); CSRF on every unsafe method; not logged in: the
    login page (htmx requests are told to go there rather than swap it into a fragment)."""
    if not is_console_request() or request.endpoint == STATIC_ENDPOINT:
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    declared = None if view is None else policy.policy_of(view)
    if declared is None:
        logger.error("console: %s has no policy: refused", request.endpoint)
        raise InternalServerError("this page declares no policy: refused")
    if not declared.public and not current_user.is_authenticated:
        return _to_login()  # before CSRF reads the body: a stranger's upload is never parsed
    if request.method in UNSAFE_METHODS:
        csrf.protect()
    if declared.public:
        return None
    principal = console_principal()
    g.zamio_principal = principal
    policy.authorize(principal, declared, request.view_args or {})
    return None


def console_principal() -> Principal:
    """The logged-in user as a Principal: a session holds every scope the role allows."""
    user = current_user.user
    return policy.principal_of(user, roles.allowed_scopes(user.role), None)


def _to_login() -> Response:
    """The login page, coming back here afterwards."""
    target = "/login?next=" + quote(request.full_path.rstrip("?"), safe="/")
    if request.headers.get("HX-Request"):
        response = Response(status=401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)  # type: ignore[return-value]


def _headers(response: Response) -> Response:
    """Console pages: a strict CSP, no framing, no sniffing, no caching of people's data."""
    if is_console_request() or (response.status_code >= 400 and not under_api(request.path)):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != STATIC_ENDPOINT:
            response.headers.setdefault("Cache-Control", "no-store")
            response.vary.add("Cookie")
    return response


def error_page(error: HTTPException) -> ResponseReturnValue:
    """An HTML error page outside the API: what went wrong, in words, and where to go."""
    status = error.code or 500
    if isinstance(error, CSRFError):
        detail = CSRF_REFUSED
    elif status == 500:
        detail = "Something went wrong on our side. The operator's log has the details."
    else:
        detail = error.description or ""
    title = _TITLES.get(status, error.name)
    page = render_template("errors/error.html", status=status, title=title, detail=detail)
    return page, status, {k: v for k, v in error.get_headers() if k.lower() != "content-type"}


_TITLES: dict[int, Any] = {
    400: "The request was not understood",
    403: "You may not open this page",
    404: "Not found",
    405: "Not allowed here",
    429: "Too many attempts",
    500: "Server error",
}
