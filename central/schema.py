"""Where the database schema stands against the migrations, and upgrading SQLite on open."""

from __future__ import annotations

import logging

import click
import flask_migrate
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from central.errors import SchemaError
from central.extensions import MIGRATIONS_DIR

logger = logging.getLogger(__name__)


def head_revisions() -> set[str]:
    """The revisions the code expects (the heads of central/migrations)."""
    return set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at; empty for a database never migrated."""
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def is_behind(engine: Engine) -> bool:
    """True when the database needs `zamio db upgrade`; SchemaError if it is newer than the code."""
    current = current_revisions(engine)
    known = {rev.revision for rev in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
    unknown = current - known
    if unknown:
        raise SchemaError(
            f"database schema revision {', '.join(sorted(unknown))} is newer than this zamio: "
            "upgrade zamio"
        )
    return current != head_revisions()


def require_current(engine: Engine) -> None:
    """Raise SchemaError unless the database schema is at the code's head revision."""
    if is_behind(engine):
        raise SchemaError(
            f"database schema is behind ({engine.url.render_as_string(hide_password=True)}): "
            "run `zamio db upgrade`"
        )


def require_current_for_command(engine: Engine) -> None:
    """require_current for a CLI command: a one-line error instead of a traceback."""
    try:
        require_current(engine)
    except SchemaError as error:
        raise click.ClickException(str(error)) from None


def upgrade_sqlite_if_behind(engine: Engine) -> bool:
    """Migrate an SQLite database to head when behind (needs an app context); True if it did."""
    if engine.dialect.name != "sqlite" or not is_behind(engine):
        return False
    logger.info("database %s: upgrading schema to head", engine.url.database)
    flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
    return True
