"""`zamio scan` (an edge agent per stream link, supervised) and `zamio scan status`."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from central import schema
from central.config import data_dir
from central.errors import SchemaError
from central.extensions import db
from central.scan import status
from central.scan.errors import ScanError
from central.scan.links import last_matches
from central.scan.scanner import Scanner, lock_state_dir, now_ms
from central.scan.supervisor import Limits
from central.stations import store

AGENTS_MAX = 1000  # --max-agents at most: each agent is a process with an ffmpeg
EXIT_NOT_RUNNING = 3  # `zamio scan status` when no supervisor runs (as `systemctl status`)
_STATE_DIR = "zamio.scan.state_dir"  # ctx.meta key: `zamio scan --state-dir D status`


def default_state_dir() -> Path:
    """<central's data dir>/scan."""
    return data_dir(os.environ) / "scan"


def _state_dir(ctx: click.Context, given: Path | None) -> Path:
    """The state dir given to the command or to `zamio scan`, else the default; absolute."""
    return (given or ctx.meta.get(_STATE_DIR) or default_state_dir()).absolute()


_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Passwords, agent configs, spools and scan-status.json [default: <data dir>/scan].",
)


@click.group("scan", cls=AppGroup, invoke_without_command=True)
@_state_dir_option
@click.option(
    "--max-agents",
    type=click.IntRange(1, AGENTS_MAX),
    default=Limits.agents_max,
    show_default=True,
    help="Agents running at once; links beyond wait their turn.",
)
@click.option(
    "--station",
    "stations",
    multiple=True,
    metavar="CODE",
    help="Scan exactly these stations (repeat it), box or not.",
)
@click.option(
    "--refresh-s",
    type=click.FloatRange(0.5, 3600),
    default=30.0,
    show_default=True,
    help="Seconds between reads of the station list.",
)
@with_appcontext
@click.pass_context
def scan_cli(
    ctx: click.Context,
    state_dir: Path | None,
    max_agents: int,
    stations: tuple[str, ...],
    refresh_s: float,
) -> None:
    """Scan every station with a stream link and no box: run an edge agent for each,
    restart it when it dies, until SIGTERM."""
    ctx.meta[_STATE_DIR] = state_dir
    if ctx.invoked_subcommand is not None:
        return
    schema.require_current_for_command(db.engine)
    unknown = [code for code in stations if store.find_station(db.session, code) is None]
    if unknown:
        raise click.ClickException(f"no such station: {', '.join(unknown)}")
    db.session.remove()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    directory = _state_dir(ctx, state_dir)
    try:
        lock = lock_state_dir(directory)
    except (ScanError, OSError) as error:
        raise click.ClickException(str(error)) from None
    limits = Limits(agents_max=max_agents)
    app = current_app._get_current_object()
    scanner = Scanner(app, directory, limits, tuple(dict.fromkeys(stations)), refresh_s)
    signal.signal(signal.SIGTERM, lambda *_: scanner.stop())
    signal.signal(signal.SIGINT, lambda *_: scanner.stop())
    with lock:
        scanner.run()


@scan_cli.command("status")
@_state_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
@click.pass_context
def scan_status_command(ctx: click.Context, state_dir: Path | None, as_json: bool) -> None:
    """Each link's state, process, restarts, last error and last match; exit 3 when no
    supervisor runs."""
    path = status.status_path(_state_dir(ctx, state_dir))
    document = status.read_status(path)
    if document is None:
        raise click.ClickException(f"no scan status in {path}: has `zamio scan` run with it?")
    now = now_ms()
    document["supervisor"] = status.supervisor_state(
        document, now, status.pid_alive(document["pid"])
    )
    _merge_last_matches(document, now)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        for line in status.status_lines(document, document["supervisor"], now):
            click.echo(line)
    if document["supervisor"] != status.RUNNING:
        ctx.exit(EXIT_NOT_RUNNING)


def _merge_last_matches(document: dict, now: int) -> None:
    """Each link's last match, fresh from the database (kept from the file if unreachable)."""
    codes = [link["station"] for link in document["links"]]
    try:
        schema.require_current(db.engine)
        matches = last_matches(db.session, codes, now)
    except (SchemaError, SQLAlchemyError) as error:
        click.echo(f"last matches as the supervisor saw them: database: {error}", err=True)
        return
    for link in document["links"]:
        link["last_match_ms"] = matches.get(link["station"])
