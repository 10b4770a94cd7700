"""Fixtures of the read API tests: an app with a token, a client that sends it, and rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from central.extensions import db, utc_now
from tests.integration.central.rows import MINUTE_MS, T0_MS, add_play, add_station, add_track

TOKEN = "zamio-test-token-0123456789_abcdefghijklmno"


@pytest.fixture
def api_app(pg_app: Flask) -> Flask:
    """pg_app with TOKEN as its API token."""
    pg_app.config["ZAMIO"] = dataclasses.replace(pg_app.config["ZAMIO"], api_token=TOKEN)
    return pg_app


@pytest.fixture
def get(api_app: Flask) -> Callable[..., TestResponse]:
    """get(path, token=TOKEN, **params): a GET of the API with `Authorization: Bearer token`."""
    client = api_app.test_client()

    def get(path: str, token: str | None = TOKEN, **params: Any) -> TestResponse:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return client.get(path, headers=headers, query_string=params)

    return get


@pytest.fixture
def log(api_app: Flask) -> dict[str, int]:
    """Stations joy-fm (devices pi-01, pi-02 revoked) and peace-fm; at joy-fm, ten closed plays
    of A and B, one every 10 min from T0_MS, and an open play of A at T0_MS + 100 min.
    Returns the play ids by start (minutes after T0_MS)."""
    with api_app.app_context():
        joy = add_station(db.session, "joy-fm", devices=("pi-01", "pi-02"))
        joy.devices[1].active = False
        joy.devices[1].revoked_at = utc_now()
        add_station(db.session, "peace-fm")
        a, b = add_track(db.session, "A"), add_track(db.session, "B", artist=None)
        ids = {}
        for n in range(10):
            ids[n * 10] = add_play(db.session, joy, (a, b)[n % 2], T0_MS + n * 10 * MINUTE_MS).id
        ids[100] = add_play(db.session, joy, a, T0_MS + 100 * MINUTE_MS, closed=False).id
        db.session.commit()
    return ids
