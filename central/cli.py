"""The `zamio` command: Flask's CLI group with every domain's commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException
from flask_migrate.cli import db as db_cli

from central import create_app
from central.catalog.cli import catalog_cli
from central.errors import ConfigError, SchemaError
from central.ingest.cli import ingest_cli
from central.matching.cli import rematch_command
from central.plays.cli import playlog_command
from central.stations.cli import device_cli, station_cli
from central.worker_cli import purge_command, scheduler_command, worker_command

# The one place domains register their commands: add the click command or group here.
COMMANDS: list[click.Command] = [
    db_cli,  # zamio db upgrade | downgrade | current | revision ... (Flask-Migrate)
    catalog_cli,  # zamio catalog import | list
    playlog_command,  # zamio playlog RECORDING [--json]
    station_cli,  # zamio station add | list
    device_cli,  # zamio device add | list | revoke | broker-files
    ingest_cli,  # zamio ingest [quarantine]
    worker_command,  # zamio worker [--burst]
    scheduler_command,  # zamio scheduler
    rematch_command,  # zamio rematch --since T [--until T] [--station S] [--tracks new|all]
    purge_command,  # zamio purge
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
