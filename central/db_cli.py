"""`zamio db upgrade | current | check`: the schema commands an operator needs, over the packaged
migrations (Flask-Migrate's authoring commands stay out of the operators' way)."""

from __future__ import annotations

import click
import flask_migrate
from flask.cli import AppGroup

from central import schema
from central.errors import SchemaError
from central.extensions import MIGRATIONS_DIR, db


@click.group("db", cls=AppGroup)
def db_cli() -> None:
    """The database schema: upgrade it to this zamio's migrations, show or check where it is."""


@db_cli.command("upgrade")
def upgrade_command() -> None:
    """Migrate the database to this zamio's schema (safe to run again)."""
    _require_known()
    flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
    click.echo(f"database schema at {_revisions(schema.current_revisions(db.engine))}")


@db_cli.command("current")
def current_command() -> None:
    """The schema revision the database is at, and the one this zamio expects."""
    current = schema.current_revisions(db.engine)
    head = schema.head_revisions()
    try:
        state = "behind: run `zamio db upgrade`" if schema.is_behind(db.engine) else "current"
    except SchemaError as error:
        state = str(error)
    click.echo(f"database {_revisions(current)}, zamio {_revisions(head)}: {state}")


@db_cli.command("check")
def check_command() -> None:
    """Exit 0 when the schema is current, 1 (saying what to do) when it is behind or newer."""
    try:
        schema.require_current(db.engine)
    except SchemaError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"database schema current ({_revisions(schema.head_revisions())})")


# Developers' and tests' rollback: hidden, an operator restores a backup instead.
@db_cli.command("downgrade", hidden=True)
@click.argument("revision", default="-1")
def downgrade_command(revision: str) -> None:
    """Migrate the database down to REVISION (default: one step)."""
    flask_migrate.downgrade(directory=str(MIGRATIONS_DIR), revision=revision)


def _require_known() -> None:
    """ClickException when the database is at a revision this zamio does not know (newer)."""
    try:
        schema.is_behind(db.engine)
    except SchemaError as error:
        raise click.ClickException(str(error)) from None


def _revisions(revisions: set[str]) -> str:
    """'revision 0009', or 'no revision' for a database never migrated."""
    return f"revision {', '.join(sorted(revisions))}" if revisions else "no revision"
