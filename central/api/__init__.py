"""The API: JSON under /api/v1 on APIFlask, one blueprint per resource, each view thin over
domain functions and declaring its policy (central/auth/policy.py). The OpenAPI 3.1 document
(/api/v1/openapi.json) comes from the same schemas that validate; Swagger UI at /api/docs is
served from the package. Errors are problem+json; GETs carry ETags; lists are cursor-paged."""

from __future__ import annotations

import re
from typing import Any

from apiflask import APIFlask
from flask import Flask, Response, request
from werkzeug.exceptions import Unauthorized
from werkzeug.http import HTTP_STATUS_CODES

from central.api import problems, throttle
from central.api.idempotency import is_idempotent
from central.auth import policy
from central.errors import QueryError

API_PREFIX = "/api/v1"
SPEC_PATH = f"{API_PREFIX}/openapi.json"
DOCS_PATH = "/api/docs"
SWAGGER_STATIC = "/api/static/swagger-ui"
PUBLIC_PATHS = frozenset({SPEC_PATH, DOCS_PATH})  # APIFlask's own views: the document
CALLBACKS_PATH = f"{API_PREFIX}/payouts/callbacks/"  # payment providers' callbacks (public)
_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def configure(app: APIFlask) -> None:
    """OpenAPI settings, and query parameters checked strictly."""
    _strict_queries()
    _configure_openapi(app)


def _strict_queries() -> None:
    """An unknown query parameter is a 400, as an unknown body field is (webargs ignores it)."""
    from apiflask.schema_adapters.marshmallow import parser
    from marshmallow import RAISE

    parser.DEFAULT_UNKNOWN_BY_LOCATION = {**parser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE}


def _configure_openapi(app: APIFlask) -> None:
    """OpenAPI settings: 3.1, bearer security, Swagger UI from the package's static files."""
    app.config.update(
        OPENAPI_VERSION="3.1.0",
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_SCHEMA=problems.PROBLEM_SCHEMA,
        HTTP_ERROR_SCHEMA=problems.PROBLEM_SCHEMA,
        SECURITY_SCHEMES={
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal access token `zamio_pat_...` (`zamio token create`"
                " or POST /api/v1/auth/token), or the bootstrap ZAMIO_API_TOKEN.",
            }
        },
        DESCRIPTION=(
            "ZamIO: broadcast monitoring and music royalties. Every operation names the roles,"
            " the token scope and the ownership rule it needs in `x-zamio-policy`."
        ),
        SWAGGER_UI_CSS=f"{SWAGGER_STATIC}/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS=f"{SWAGGER_STATIC}/swagger-ui-standalone-preset.js",
        DOCS_FAVICON=f"{SWAGGER_STATIC}/favicon-32x32.png",
    )


def register(app: APIFlask) -> None:
    """Blueprints, errors, the policy check, ETags and the spec's policies, on `app`."""
    from central.api import (
        admin,
        auth_views,
        earnings,
        funding,
        me,
        notifications,
        payouts,
        platform,
        plays,
        rights,
        stations,
        tracks,
    )

    throttle.init_app(app)
    modules = (auth_views, me, stations, plays, tracks, earnings, payouts, admin, platform, rights)
    for module in (*modules, notifications, funding):
        app.register_blueprint(module.blueprint)
    app.before_request(_guard)
    app.after_request(_conditional)
    # HTTPException's handler is the app's (central/__init__.py): problems here, pages elsewhere
    app.register_error_handler(QueryError, lambda e: problems.problem(400, str(e)))
    # not app.error_processor(): that would also take over werkzeug's errors, losing details
    app.error_callback = problems.from_apiflask
    app.spec_processor(lambda spec: with_policies(app, spec))


def _guard() -> None:
    """Before every request under /api: the policy check (before routing's own 404 or 405, so
    an unknown path or method tells nothing to a client without a token)."""
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(SWAGGER_STATIC) or not problems.under_api(path):
        return
    limiter = throttle.throttle()
    if path.startswith(CALLBACKS_PATH):  # a provider's callbacks come from a few addresses:
        limiter.check(limiter.api, "callback", path)  # counted per transfer, not per address
    else:
        limiter.check(limiter.api, "api", throttle.caller_key())
    limiter.peek(limiter.auth_failures, "auth-failures", throttle.address_key())
    try:
        policy.enforce(request.endpoint)
    except Unauthorized:
        limiter.count(limiter.auth_failures, "auth-failures", throttle.address_key())
        raise


def _conditional(response: Response) -> Response:
    """A weak ETag on every successful API GET, and 304 for a matching If-None-Match."""
    if request.method == "GET" and response.status_code == 200 and _etagged(response):
        response.add_etag(weak=True)
        response.headers["Cache-Control"] = "private, no-cache"
        response.vary.add("Authorization")
        response.make_conditional(request)
    return response


def _etagged(response: Response) -> bool:
    """JSON under /api/v1, not streamed."""
    return (
        request.path.startswith(API_PREFIX)
        and response.mimetype == "application/json"
        and not response.is_streamed
    )


def openapi_path(rule: str) -> str:
    """A Flask rule (`/plays/<int:play_id>`) as an OpenAPI path (`/plays/{play_id}`)."""
    return _RULE_ARG.sub(r"{\1}", rule)


def with_policies(app: Flask, spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with each operation's policy (`x-zamio-policy`), its security and, on
    idempotent POSTs, the Idempotency-Key header."""
    for rule in app.url_map.iter_rules():
        operations = spec.get("paths", {}).get(openapi_path(rule.rule))
        view = app.view_functions.get(rule.endpoint)
        if operations is None or view is None:
            continue
        declared = policy.policy_of(view)
        for method in rule.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            operation["x-zamio-policy"] = None if declared is None else declared.describe()
            operation["security"] = [] if declared and declared.public else [{"bearer": []}]
            if is_idempotent(view):
                operation.setdefault("parameters", []).append(_IDEMPOTENCY_PARAMETER)
            _with_problems(operation, declared)
    return spec


def _with_problems(operation: dict[str, Any], declared: policy.Policy | None) -> None:
    """Every error an operation can answer, as problem+json: its own, and those of the
    policy check (401, 403, 404), throttling (429) and the server (500)."""
    responses = operation.setdefault("responses", {})
    codes = {"429", "500"} | ({"400"} if operation.get("parameters") else set())
    if declared is None or not declared.public:
        codes |= {"401", "403", "404"}
    for code in sorted(codes - set(responses)):
        responses[code] = {"description": HTTP_STATUS_CODES.get(int(code), "Error")}
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            response["content"] = {problems.MEDIA_TYPE: {"schema": problems.PROBLEM_SCHEMA}}


_IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "Same key and body: the first response again; same key, other body: 409.",
}
