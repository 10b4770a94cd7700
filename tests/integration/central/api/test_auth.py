"""The read API's bearer token: no token, a wrong one or another scheme gets 401 with a Bearer
challenge; a server without a token refuses everything; the token never reaches the log."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from tests.integration.central.api.conftest import TOKEN

pytestmark = pytest.mark.integration

ENDPOINTS = [
    "/api/v1/stations",
    "/api/v1/stations/joy-fm",
    "/api/v1/stations/joy-fm/devices",
    "/api/v1/stations/joy-fm/detections",
    "/api/v1/stations/joy-fm/plays",
    "/api/v1/plays/1",
]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_needs_the_token(get, log, path: str) -> None:
    """Without a token every endpoint answers 401 with `WWW-Authenticate: Bearer`; with it, 200."""
    refused = get(path, token=None)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "Authorization: Bearer" in refused.json["error"]
    assert get(path).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer " + "x" * len(TOKEN),
        f"Basic {TOKEN}",
        f"{TOKEN}",
        "Bearer ",
        "Bearer ünïcödé-tökén",
    ],
)
def test_a_wrong_token_or_scheme_is_refused(api_app: Flask, header: str) -> None:
    """Anything but `Bearer <the token>` is 401 (never 500, even with non-ASCII)."""
    response = api_app.test_client().get("/api/v1/stations", headers={"Authorization": header})
    assert response.status_code == 401, response.json
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="zamio"')


def test_the_scheme_is_case_insensitive(get, api_app: Flask) -> None:
    """`bearer` in lower case is the same scheme (RFC 7235)."""
    headers = {"Authorization": f"bearer {TOKEN}"}
    assert api_app.test_client().get("/api/v1/stations", headers=headers).status_code == 200


def test_wrong_token_says_invalid_token(get) -> None:
    """A wrong token gets error="invalid_token" in the challenge, as RFC 6750 asks."""
    response = get("/api/v1/stations", token="y" * 40)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.json == {"error": "wrong bearer token", "status": 401}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_no_configured_token_refuses_everything(pg_app: Flask, path: str) -> None:
    """With no ZAMIO_API_TOKEN the API is closed: 503 saying how to open it, whatever is sent."""
    client = pg_app.test_client()
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {TOKEN}"}):
        response = client.get(path, headers=headers)
        assert response.status_code == 503
        assert "ZAMIO_API_TOKEN" in response.json["error"]


def test_the_token_is_never_logged(api_app: Flask, get, caplog: pytest.LogCaptureFixture) -> None:
    """Refused and accepted requests and the app's start log leave no trace of the token."""
    caplog.set_level(logging.DEBUG)
    get("/api/v1/stations", token=TOKEN + "x")
    get("/api/v1/stations")
    assert "refused" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(api_app.config["ZAMIO"])
    assert api_app.config["ZAMIO"].redacted()["api_token"] == "***"
