"""`zamio serve` on real PostgreSQL: waitress serves /health and the read API over real HTTP."""

from __future__ import annotations

import dataclasses
import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from waitress.server import create_server

from central import serve_cli
from central.cli import cli

pytestmark = pytest.mark.integration

TOKEN = "serve-test-token-0123456789abcdefghijklmn"
WAIT_S_MAX = 10.0


def fetch(url: str, token: str | None = None) -> tuple[int, Any]:
    """(status, JSON body) of a GET of `url`."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_serve_answers_http_until_closed(
    pg_app: Flask, pg_runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command listens on the port asked (0: any free), answers /health and the API with
    its token, and returns when the server is closed."""
    pg_app.config["ZAMIO"] = dataclasses.replace(pg_app.config["ZAMIO"], api_token=TOKEN)
    servers, answers = [], {}
    started = threading.Event()

    def recording_create_server(app, **kwargs):
        servers.append(create_server(app, **kwargs))
        started.set()
        return servers[-1]

    def client() -> None:
        started.wait(WAIT_S_MAX)
        server = servers[0]
        base = f"http://127.0.0.1:{server.effective_port}"
        try:
            answers["health"] = fetch(f"{base}/health")
            answers["stations"] = fetch(f"{base}/api/v1/stations", TOKEN)
            answers["no token"] = fetch(f"{base}/api/v1/stations")
        finally:
            server.trigger.pull_trigger(server.close)  # close from the server's own loop

    monkeypatch.setattr(serve_cli, "create_server", recording_create_server)
    thread = threading.Thread(target=client)
    thread.start()
    result = pg_runner.invoke(cli, ["serve", "--port", "0", "--threads", "2"])
    thread.join(WAIT_S_MAX)
    servers[0].task_dispatcher.shutdown()
    assert result.exit_code == 0, result.output
    assert f"listening on http://127.0.0.1:{servers[0].effective_port}" in result.stderr
    assert answers == {
        "health": (200, {"status": "ok", "database": "ok"}),
        "stations": (200, {"stations": []}),
        "no token": (
            401,
            {"error": "send the header `Authorization: Bearer <token>`", "status": 401},
        ),
    }


def test_serve_warns_when_the_api_has_no_token(
    pg_runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ZAMIO_API_TOKEN the server still starts (for /health) but says the API is shut."""
    calls = []

    class FakeServer:
        effective_host, effective_port = "0.0.0.0", 8123

        def run(self) -> None:
            pass

    def fake_create_server(app, **kwargs):
        calls.append(kwargs)
        return FakeServer()

    monkeypatch.setattr(serve_cli, "create_server", fake_create_server)
    result = pg_runner.invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "ZAMIO_API_TOKEN is not set" in result.stderr
    assert calls == [{"host": "0.0.0.0", "port": 8123, "threads": 8}]
