"""Fixtures of the console tests: stations joy-fm and peace-fm, a user of each role, and
`console_client(role)`: a Flask test client signed in through the real /login form."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from central.auth import users
from central.extensions import db
from tests.integration.central.rows import add_station

PASSWORD = "a long enough passphrase"
PEOPLE = {
    "admin": ("ops@zamio.test", "admin", (), ()),
    "auditor": ("society@ghamro.test", "auditor", (), ()),
    "station": ("desk@joy.test", "station", ("joy-fm",), ()),
    "artist": ("ama@artists.test", "artist", (), ("artist:ama:earnings",)),
    "rights_holder": ("label@adomi.test", "rights_holder", (), ("label:adomi:earnings",)),
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class ConsoleClient(FlaskClient):
    """A test client that knows its session's CSRF token (`csrf`) and can post forms with it."""

    csrf: str = ""

    def form(self, path: str, data: dict | None = None, **kwargs) -> object:
        """POST `data` to `path` with this session's CSRF token, as a browser's form would."""
        return self.post(path, data={**(data or {}), "csrf_token": self.csrf}, **kwargs)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def sign_in(app: Flask, email: str, password: str = PASSWORD) -> ConsoleClient:
    """A client signed in through /login as a browser is: GET the form, POST it with its token."""
    app.test_client_class = ConsoleClient
    client = app.test_client()
    assert isinstance(client, ConsoleClient)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    client.csrf = csrf_of(client.get("/account").text)  # the signed-in session's own token
    return client


@pytest.fixture
def console_people(pg_app: Flask) -> dict[str, str]:
    """Stations joy-fm and peace-fm and one user of each role; the email by role."""
    with pg_app.app_context():
        add_station(db.session, "joy-fm")
        add_station(db.session, "peace-fm")
        for email, role, stations, parties in PEOPLE.values():
            users.add_user(db.session, email, role, PASSWORD, stations, parties)
        db.session.commit()
    return {role: spec[0] for role, spec in PEOPLE.items()}


@pytest.fixture
def console_client(pg_app: Flask, console_people: dict[str, str]) -> Callable[[str], ConsoleClient]:
    """console_client(role): a client signed in as that role's user (see PEOPLE)."""
    return lambda role: sign_in(pg_app, console_people[role])
