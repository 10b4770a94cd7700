"""`zamio serve`: the app (the API, its docs, /health) on waitress, a production WSGI server."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from waitress.server import create_server

from central import schema
from central.extensions import db

THREADS_MAX = 64
CONNECTIONS_MAX = 500  # open connections at once (each a file descriptor; fits ulimit -n 1024)
CONNECTIONS_LIMIT = 10_000
CHANNEL_TIMEOUT_S = 30  # a connection idle this long (no byte in or out) is closed
CHANNEL_TIMEOUT_S_MAX = 3600
CLEANUP_INTERVAL_S_MAX = 10  # idle connections are looked for at least this often
# Bodies: JSON writes are small; a track upload is at most ZAMIO_UPLOAD_BYTES_MAX, plus the
# multipart form around it (Flask answers 413 past the upload limit itself, as problem+json).
# A header block larger than this is no honest client's.
REQUEST_HEADER_BYTES_MAX = 64 * 1024


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0: any free port.",
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, THREADS_MAX),
    help="Requests served at once (each may hold a database connection).",
)
@click.option(
    "--connections-max",
    default=CONNECTIONS_MAX,
    show_default=True,
    type=click.IntRange(1, CONNECTIONS_LIMIT),
    help="Open connections at once, idle ones included; more wait in the listen backlog.",
)
@click.option(
    "--channel-timeout-s",
    default=CHANNEL_TIMEOUT_S,
    show_default=True,
    type=click.IntRange(1, CHANNEL_TIMEOUT_S_MAX),
    help="Close a connection idle (or sending nothing) this long.",
)
@with_appcontext
def serve_command(
    host: str, port: int, threads: int, connections_max: int, channel_timeout_s: int
) -> None:
    """Serve the API (/api/v1, docs at /api/docs) and /health until interrupted; put TLS in
    front of it (a proxy)."""
    schema.require_current_for_command(db.engine)
    db.session.remove()
    app = current_app._get_current_object()
    try:
        server = create_server(
            app,
            host=host,
            port=port,
            **waitress_settings(
                threads,
                connections_max,
                channel_timeout_s,
                app.config["MAX_CONTENT_LENGTH"],
            ),
        )
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
    for host_shown, port_shown in _listening(server):
        base = f"http://{host_shown}:{port_shown}"
        click.echo(
            f"zamio serve: listening on {base}: the console at {base}/login,"
            f" the API at {base}/api/v1 (its document: {base}/api/docs)",
            err=True,
        )
    server.run()


def waitress_settings(
    threads: int, connections_max: int, channel_timeout_s: int, body_bytes_max: int
) -> dict[str, Any]:
    """Waitress's settings: slow or idle clients are closed after channel_timeout_s and cannot
    hold more than connections_max sockets; poll() rather than select(), which stops at 1024."""
    return {
        "threads": threads,
        "connection_limit": connections_max,
        "channel_timeout": channel_timeout_s,
        "cleanup_interval": min(CLEANUP_INTERVAL_S_MAX, channel_timeout_s),
        "asyncore_use_poll": True,
        "max_request_body_size": body_bytes_max,
        "max_request_header_size": REQUEST_HEADER_BYTES_MAX,
        "ident": "zamio",
    }


def _listening(server: Any) -> list[tuple[str, int]]:
    """(host, port) of each socket the server listens on; IPv6 hosts in brackets."""
    listen = getattr(server, "effective_listen", None)
    pairs = (
        [(h, p) for h, p, *_ in listen]
        if listen
        else [(server.effective_host, server.effective_port)]
    )
    return [(f"[{h}]" if ":" in str(h) else str(h), int(p)) for h, p in pairs]
