"""Fixtures of the accounts tests: an app with stations, people of every role and their tokens."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from central.api import throttle
from central.auth import tokens, users
from central.extensions import db, utc_now
from tests.integration.central.rows import add_station

PASSWORD = "a long enough passphrase"
PEOPLE = {
    "admin": ("ops@zamio.test", "admin", (), ()),
    "station": ("desk@joy.test", "station", ("joy-fm",), ()),
    "artist": ("ama@artists.test", "artist", (), ("artist:ama:earnings",)),
    "rights_holder": ("label@adomi.test", "rights_holder", (), ("label:adomi:earnings",)),
    "auditor": ("society@ghamro.test", "auditor", (), ()),
}


@pytest.fixture
def people(pg_app: Flask) -> dict[str, str]:
    """Stations joy-fm and peace-fm, one user of each role, each with a token of every scope
    their role allows; returns the token by role."""
    from central.auth import roles

    found = {}
    with pg_app.app_context():
        add_station(db.session, "joy-fm")
        add_station(db.session, "peace-fm")
        for role, (email, role_name, stations, parties) in PEOPLE.items():
            user = users.add_user(db.session, email, role_name, PASSWORD, stations, parties)
            scopes = roles.allowed_scopes(role_name)
            _, found[role] = tokens.create_token(
                db.session, user, "test", scopes, timedelta(days=1), utc_now()
            )
        db.session.commit()
    return found


@pytest.fixture
def call(pg_app: Flask) -> Callable[..., TestResponse]:
    """call(method, path, token=None, **kwargs): a request with `Authorization: Bearer token`."""
    client = pg_app.test_client()

    def call(method: str, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return client.open(path, method=method, headers=headers, **kwargs)

    return call


def set_limits(app: Flask, **changes: str) -> None:
    """Replace the app's rate limits (and with them its limiter) for this test."""
    app.config["ZAMIO"] = dataclasses.replace(app.config["ZAMIO"], **changes)
    throttle.init_app(app)
