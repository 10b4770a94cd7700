"""`zamio serve` on real PostgreSQL: waitress serves /health and the read API over real HTTP."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from waitress.server import create_server

from central import FORM_BYTES_MAX, serve_cli
from central.cli import cli

pytestmark = pytest.mark.integration

TOKEN = "serve-test-token-0123456789abcdefghijklmn"
WAIT_S_MAX = 10.0  # a generous ceiling: the answers come in well under a second
IDLE_CONNECTIONS = 120


def fetch(url: str, token: str | None = None, timeout_s: float = 5.0) -> tuple[int, Any]:
    """(status, JSON body) of a GET of `url`."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def serve_while(
    runner: FlaskCliRunner,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    client: Callable[[str], None],
) -> tuple[Result, Any]:
    """Run `zamio serve --port 0 ARGS` while `client(base_url)` runs in a thread, then close the
    server; (the command's result, the waitress server)."""
    servers: list[Any] = []
    started = threading.Event()

    def recording_create_server(app, **kwargs):
        servers.append(create_server(app, **kwargs))
        started.set()
        return servers[-1]

    def run_client() -> None:
        started.wait(WAIT_S_MAX)
        server = servers[0]
        try:
            client(f"http://127.0.0.1:{server.effective_port}")
        finally:
            server.trigger.pull_trigger(server.close)  # close from the server's own loop

    monkeypatch.setattr(serve_cli, "create_server", recording_create_server)
    thread = threading.Thread(target=run_client)
    thread.start()
    result = runner.invoke(cli, ["serve", "--port", "0", *args])
    thread.join(WAIT_S_MAX * 4)
    servers[0].task_dispatcher.shutdown()
    return result, servers[0]


def test_serve_answers_http_until_closed(
    pg_app: Flask, pg_runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command listens on the port asked (0: any free), answers /health and the API with
    its token, and returns when the server is closed."""
    pg_app.config["ZAMIO"] = dataclasses.replace(pg_app.config["ZAMIO"], api_token=TOKEN)
    answers = {}

    def client(base: str) -> None:
        answers["health"] = fetch(f"{base}/health")
        answers["stations"] = fetch(f"{base}/api/v1/stations", TOKEN)
        answers["no token"] = fetch(f"{base}/api/v1/stations")
        answers["unknown, no token"] = fetch(f"{base}/api/v1/nowhere")

    result, server = serve_while(pg_runner, monkeypatch, ["--threads", "2"], client)
    assert result.exit_code == 0, result.output
    assert f"listening on http://127.0.0.1:{server.effective_port}" in result.stderr
    refused = (
        401,
        {
            "detail": "send the header `Authorization: Bearer <token>`",
            "status": 401,
            "title": "Unauthorized",
            "type": "about:blank",
        },
    )
    assert answers == {
        "health": (200, {"status": "ok", "database": "ok"}),
        "stations": (200, {"stations": []}),
        "no token": refused,
        "unknown, no token": refused,
    }


def test_idle_connections_do_not_starve_a_request(
    pg_app: Flask, pg_runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """120 clients that connect and send nothing (or half a request) do not keep a client with
    the token from its answer (waitress's old limit of 100 connections left it waiting for
    minutes), and the idle ones are closed after --channel-timeout-s."""
    pg_app.config["ZAMIO"] = dataclasses.replace(pg_app.config["ZAMIO"], api_token=TOKEN)
    answers, closed = {}, []

    def client(base: str) -> None:
        port = int(base.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(IDLE_CONNECTIONS)]
        for sock in idle[::2]:
            sock.sendall(b"GET /api/v1/stations HTTP/1.1\r\nHost: x\r\n")  # never finished
        try:
            answers["stations"] = fetch(f"{base}/api/v1/stations", TOKEN, timeout_s=WAIT_S_MAX)
            for sock in idle:
                sock.settimeout(WAIT_S_MAX)
                closed.append(sock.recv(1) == b"")  # the server hung up on it
        finally:
            for sock in idle:
                sock.close()

    args = ["--threads", "2", "--channel-timeout-s", "2"]
    result, server = serve_while(pg_runner, monkeypatch, args, client)
    assert result.exit_code == 0, result.output
    assert server.adj.connection_limit == serve_cli.CONNECTIONS_MAX > IDLE_CONNECTIONS
    assert answers == {"stations": (200, {"stations": []})}
    assert closed == [True] * IDLE_CONNECTIONS


def test_serve_starts_with_its_limits(
    pg_runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ZAMIO_API_TOKEN the server starts (users' tokens open the API), with waitress's
    limits as configured."""
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
    assert "ZAMIO_API_TOKEN" not in result.stderr
    assert calls == [
        {
            "host": "0.0.0.0",
            "port": 8123,
            **serve_cli.waitress_settings(8, 500, 30, 200 * 1024 * 1024 + FORM_BYTES_MAX),
        },
    ]
    assert calls[0]["connection_limit"] == 500 and calls[0]["asyncore_use_poll"] is True
