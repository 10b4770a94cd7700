"""`zamio serve`: the app (read API, /health) on waitress, a production WSGI server."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from waitress.server import create_server

from central import schema
from central.extensions import db

THREADS_MAX = 64


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
@with_appcontext
def serve_command(host: str, port: int, threads: int) -> None:
    """Serve the read API and /health until interrupted; put TLS in front of it (a proxy)."""
    schema.require_current_for_command(db.engine)
    db.session.remove()
    app = current_app._get_current_object()
    if app.config["ZAMIO"].api_token is None:
        click.echo("warning: ZAMIO_API_TOKEN is not set: /api/v1 refuses every request", err=True)
    try:
        server = create_server(app, host=host, port=port, threads=threads)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
    for host_shown, port_shown in _listening(server):
        click.echo(f"zamio serve: listening on http://{host_shown}:{port_shown}", err=True)
    server.run()


def _listening(server: Any) -> list[tuple[str, int]]:
    """(host, port) of each socket the server listens on; IPv6 hosts in brackets."""
    listen = getattr(server, "effective_listen", None)
    pairs = (
        [(h, p) for h, p, *_ in listen]
        if listen
        else [(server.effective_host, server.effective_port)]
    )
    return [(f"[{h}]" if ":" in str(h) else str(h), int(p)) for h, p in pairs]
