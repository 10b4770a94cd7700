"""`zamio demo --serve`: the console and the API on the demo's database, served by waitress in a
thread with `zamio serve`'s settings, from before the broadcast until the demo is interrupted."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from flask import Flask
from waitress.server import create_server

from central.serve_cli import CHANNEL_TIMEOUT_S, CONNECTIONS_MAX, waitress_settings

HOST = "127.0.0.1"  # the demo's data is a newcomer's: never served beyond this machine
THREADS = 8  # zamio serve's default
STOP_S_MAX = 5.0


class ServeError(Exception):
    """The console cannot be served (the port is taken); the message says which."""


@contextlib.contextmanager
def serving(app: Flask, port: int) -> Iterator[str]:
    """Serve `app` on HOST:`port` (0: any free port) until the block ends; yields its URL."""
    body_bytes_max = app.config["MAX_CONTENT_LENGTH"]  # as `zamio serve`: an upload and its form
    settings = waitress_settings(THREADS, CONNECTIONS_MAX, CHANNEL_TIMEOUT_S, body_bytes_max)
    try:
        server = create_server(app, host=HOST, port=port, **settings)
    except OSError as error:
        raise ServeError(f"cannot serve the console on {HOST}:{port}: {error}") from None
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.effective_port}/"
    finally:
        server.close()  # no new connections; the daemon thread ends with the process
        server.task_dispatcher.shutdown(timeout=STOP_S_MAX)
        thread.join(STOP_S_MAX)
