"""The authorization matrix, generated from the app's route map and its OpenAPI document: every
route declares a policy; every operation refuses a missing, malformed, revoked or expired token
(401), a role its policy does not name and a token without its scope (403)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask

from central.api import PUBLIC_PATHS, openapi_path
from central.auth import policy, roles, tokens, users
from central.auth.models import ApiToken
from central.extensions import db, utc_now
from tests.integration.central.auth.conftest import PEOPLE, set_limits

pytestmark = pytest.mark.integration

SAMPLE_ARGS = {"code": "joy-fm", "play_id": "1", "token_id": "1", "user_id": "1"}
_ARG = re.compile(r"{([^}]+)}")


def _operations(app: Flask) -> list[tuple[str, str, dict]]:
    """(method, concrete path, policy) of every operation of the OpenAPI document."""
    spec = app.test_client().get("/api/v1/openapi.json").json
    found = []
    for path, operations in spec["paths"].items():
        concrete = _ARG.sub(lambda m: SAMPLE_ARGS.get(m[1], "1"), path)
        for method, operation in operations.items():
            found.append((method.upper(), concrete, operation["x-zamio-policy"]))
    return found


def test_every_api_route_declares_a_policy(pg_app: Flask) -> None:
    """A view under /api without @policy or @public fails here, not in review."""
    missing = []
    for rule in pg_app.url_map.iter_rules():
        if not rule.rule.startswith("/api") or rule.rule in PUBLIC_PATHS:
            continue
        if rule.endpoint == "static":
            continue
        if policy.policy_of(pg_app.view_functions[rule.endpoint]) is None:
            missing.append(rule.rule)
    assert missing == []


def test_every_operation_is_in_the_document_with_its_policy(pg_app: Flask) -> None:
    """Each API route's methods appear in openapi.json with x-zamio-policy and errors as
    problem+json."""
    spec = pg_app.test_client().get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    for rule in pg_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule in PUBLIC_PATHS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][openapi_path(rule.rule)][method.lower()]
            assert operation["x-zamio-policy"] is not None, (method, rule.rule)
            if operation["x-zamio-policy"]["public"]:
                continue
            assert "application/problem+json" in operation["responses"]["404"]["content"]


def test_no_token_or_a_bad_one_is_401_everywhere(pg_app: Flask, people, call) -> None:
    """Missing, malformed, unknown, revoked and expired tokens: 401 on every non-public
    operation, before its object is looked at."""
    set_limits(pg_app, auth_failure_rate_limit="100000 per minute")
    with pg_app.app_context():
        user = users.get_user(db.session, PEOPLE["admin"][0])
        _, revoked = tokens.create_token(db.session, user, "r", None, timedelta(days=1), utc_now())
        _, expired = tokens.create_token(db.session, user, "e", None, timedelta(days=1), utc_now())
        rows = db.session.query(ApiToken).filter(ApiToken.name.in_(["r", "e"])).all()
        for row in rows:
            if row.name == "r":
                row.revoked_at = utc_now()
            else:
                row.expires_at = utc_now() - timedelta(seconds=1)
        db.session.commit()
    bad = [None, "zamio_pat_nonsense", "zamio_pat_abcdefabcdef_" + "A" * 32, revoked, expired]
    for method, path, declared in _operations(pg_app):
        if declared["public"]:
            continue
        for token in bad:
            response = call(method, path, token, json={})
            assert response.status_code == 401, (method, path, token, response.json)
            assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_roles_and_scopes_the_policy_does_not_grant_are_403(pg_app: Flask, people, call) -> None:
    """For each operation and role: a role not named is 403; a named role whose token lacks the
    scope is 403 (with error="insufficient_scope")."""
    narrow = {}
    with pg_app.app_context():
        for role, (email, *_rest) in PEOPLE.items():
            user = users.get_user(db.session, email)
            # a token with one scope only, never the one an operation needs (checked below)
            narrow[role] = {
                scope: tokens.create_token(
                    db.session, user, scope, [scope], timedelta(days=1), utc_now()
                )[1]
                for scope in roles.allowed_scopes(user.role)
            }
        db.session.commit()
    for method, path, declared in _operations(pg_app):
        if declared["public"]:
            continue
        for role in roles.ROLES:
            if role not in declared["roles"]:
                response = call(method, path, people[role], json={})
                assert response.status_code == 403, (method, path, role, response.json)
                continue
            if declared["scope"] is None:
                continue
            others = [t for s, t in narrow[role].items() if s != declared["scope"]]
            if not others:
                continue
            response = call(method, path, others[0], json={})
            assert response.status_code == 403, (method, path, role, response.json)
            assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
