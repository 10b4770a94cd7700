"""The `zamio` command: Flask's CLI group with every domain's commands."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup
from flask_migrate.cli import db as db_cli

from central import create_app
from central.catalog.cli import catalog_cli
from central.plays.cli import playlog_command

# The one place domains register their commands: add the click command or group here.
COMMANDS: list[click.Command] = [
    db_cli,  # zamio db upgrade | downgrade | current | revision ... (Flask-Migrate)
    catalog_cli,  # zamio catalog import | list
    playlog_command,  # zamio playlog RECORDING [--json]
]

cli = FlaskGroup(
    name="zamio",
    create_app=create_app,
    load_dotenv=False,
    help="ZamIO central: catalogue, broadcast matching and royalties.",
)
for command in COMMANDS:
    cli.add_command(command)
