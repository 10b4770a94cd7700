"""The read API's bearer token: no token, a wrong one or another scheme gets 401 with a Bearer
challenge; a server without a token refuses everything; the token never reaches the log."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from central import create_app
from central.auth.policy import policy
from tests.conftest import disposed
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
    assert "Authorization: Bearer" in refused.json["detail"]
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
    assert response.json["status"] == 401 and "token" in response.json["detail"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_no_configured_token_refuses_the_bootstrap_token(pg_app: Flask, path: str) -> None:
    """With no ZAMIO_API_TOKEN there is no bootstrap token: only users' tokens open the API."""
    client = pg_app.test_client()
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {TOKEN}"}):
        response = client.get(path, headers=headers)
        assert response.status_code == 401


def test_the_token_is_never_logged(api_app: Flask, get, caplog: pytest.LogCaptureFixture) -> None:
    """Refused and accepted requests and the app's start log leave no trace of the token."""
    caplog.set_level(logging.DEBUG)
    get("/api/v1/stations", token=TOKEN + "x")
    get("/api/v1/stations")
    assert "refused" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(api_app.config["ZAMIO"])
    assert api_app.config["ZAMIO"].redacted()["api_token"] == "***"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api"),
        ("GET", "/api/"),
        ("GET", "/api/v1"),
        ("GET", "/api/v1/no-such-thing"),
        ("GET", "/api/v2/stations"),
        ("GET", "/api/v1/stations/"),
        ("GET", "/api/v1/plays/abc"),
        ("POST", "/api/v1/stations"),
        ("DELETE", "/api/v1/plays/1"),
        ("PUT", "/api/v1/nowhere"),
        ("OPTIONS", "/api/v1/stations"),
        ("HEAD", "/api/v1/stations"),
    ],
)
def test_unknown_paths_and_wrong_methods_are_401_first(
    api_app: Flask, log, method: str, path: str
) -> None:
    """Without the token every /api request is 401, even one routing would answer 404, 405 or a
    redirect: a client without the token learns nothing of the API's routes."""
    response = api_app.test_client().open(path, method=method)
    assert response.status_code == 401, (response.status_code, response.headers)
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "Allow" not in response.headers
    if method != "HEAD":
        assert response.json["detail"] == "send the header `Authorization: Bearer <token>`"
        assert response.mimetype == "application/problem+json"


def test_with_the_token_routing_errors_are_json(api_app: Flask, log) -> None:
    """With the token, an unknown path is a JSON 404 and a wrong method a JSON 405 with Allow."""
    client = api_app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    missing = client.get("/api/v1/no-such-thing", headers=headers)
    assert missing.status_code == 404 and missing.json["status"] == 404
    wrong = client.delete("/api/v1/plays/1", headers=headers)
    assert wrong.status_code == 405 and wrong.json["status"] == 405
    assert "GET" in wrong.headers["Allow"]


def test_a_failing_view_is_a_json_500(api_app: Flask, log) -> None:
    """An error inside a view is a JSON 500 that tells nothing of the error (no traceback)."""
    api_app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production, not TESTING

    @policy()
    def broken_view() -> None:
        raise RuntimeError("secret internals")

    api_app.add_url_rule("/api/v1/broken", view_func=broken_view)
    response = api_app.test_client().get(
        "/api/v1/broken", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 500 and response.is_json
    assert response.json["status"] == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert api_app.test_client().get("/api/v1/broken").status_code == 401


@pytest.mark.parametrize(("proxies", "logged"), [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_the_client_address_comes_from_trusted_proxies_only(
    pg_database_url: str, caplog: pytest.LogCaptureFixture, proxies: int, logged: str
) -> None:
    """With ZAMIO_TRUSTED_PROXIES=1 a refusal logs the address the proxy forwarded; with 0 the
    peer's own, whatever X-Forwarded-For a client sends."""
    app = create_app(
        {
            "DATABASE_URL": pg_database_url,
            "TESTING": True,
            "API_TOKEN": TOKEN,
            "TRUSTED_PROXIES": proxies,
        }
    )
    caplog.set_level(logging.INFO, logger="central.auth.policy")
    response = app.test_client().get(
        "/api/v1/stations",
        headers={"Authorization": "Bearer " + "z" * 40, "X-Forwarded-For": "203.0.113.7"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    disposed(app)
    assert response.status_code == 401
    assert f"/api/v1/stations from {logged} refused" in caplog.text
