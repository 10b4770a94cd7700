"""The `zamio` command: Flask's CLI group with every domain's commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException
from flask_migrate.cli import db as db_cli

from central import create_app
from central.catalog.cli import catalog_cli
from central.demo.cli import demo_command
from central.errors import ConfigError, SchemaError
from central.ingest.cli import ingest_cli
from central.ledger.cli import ledger_cli
from central.matching.cli import rematch_command
from central.monitoring.cli import status_command
from central.plays.cli import playlog_command, plays_command
from central.royalties.cli import royalty_cli
from central.scan.cli import scan_cli
from central.serve_cli import serve_command
from central.stations.cli import broker_cli, device_cli, station_cli
from central.worker_cli import purge_command, scheduler_command, worker_command

# The one place domains register their commands: add the click command or group here.
COMMANDS: list[click.Command] = [
    demo_command,  # zamio demo [--music DIR] [--stream URL] [--keep] [--json]
    db_cli,  # zamio db upgrade | downgrade | current | revision ... (Flask-Migrate)
    catalog_cli,  # zamio catalog import | list
    playlog_command,  # zamio playlog RECORDING [--json]
    plays_command,  # zamio plays --station CODE [--since T] [--until T] [--track ID] [--json]
    serve_command,  # zamio serve [--host H] [--port P] [--threads N]
    station_cli,  # zamio station add | list | edit | remove
    device_cli,  # zamio device add | list | revoke | rotate | broker-files
    broker_cli,  # zamio broker account add | list | rotate | remove
    ingest_cli,  # zamio ingest [quarantine]
    ledger_cli,  # zamio ledger account add|list, balance, statement, verify, transfer, ...
    royalty_cli,  # zamio royalty ratecard|shares|station|accrue|explain|hold|claim|blanket ...
    status_command,  # zamio status [--station CODE] [--json]
    worker_command,  # zamio worker [--burst]
    scheduler_command,  # zamio scheduler
    rematch_command,  # zamio rematch --since T [--until T] [--station S] [--tracks new|all]
    purge_command,  # zamio purge
    scan_cli,  # zamio scan [--state-dir D] [--max-agents N] [--station CODE ...] | status
]


def create_app_for_cli() -> Flask:
    """create_app, with configuration and schema problems shown as errors, not tracebacks."""
    try:
        return create_app()
    except (ConfigError, SchemaError) as error:
        raise NoAppException(str(error)) from None


cli = FlaskGroup(
    name="zamio",
    create_app=create_app_for_cli,
    load_dotenv=False,
    help="ZamIO central: catalogue, broadcast matching and royalties.",
)
for command in COMMANDS:
    cli.add_command(command)
