"""Flask extensions, created unbound and bound to an app by `init_app`."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Named constraints so Alembic can alter them later, on SQLite (batch mode) as on PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))


def utc_now() -> datetime:
    """The current time, timezone-aware UTC: the default of every created_at column."""
    return datetime.now(UTC)


migrate = Migrate(directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True)


def init_app(app: Flask) -> None:
    """Bind every extension to `app`."""
    db.init_app(app)
    migrate.init_app(app, db)


@event.listens_for(Engine, "connect")
def _enable_sqlite_foreign_keys(dbapi_connection: object, _record: object) -> None:
    """SQLite ignores foreign keys (and ON DELETE CASCADE) unless asked on every connection; and
    write-ahead logging lets `zamio serve` or `zamio plays` read while `zamio ingest` writes."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
