"""Throwaway PostgreSQL databases for benchmarks: made and migrated to head, dropped after."""

from __future__ import annotations

import uuid

import flask_migrate
import psycopg2

from central import create_app
from central.extensions import MIGRATIONS_DIR

HOST = "127.0.0.1"
PG_ADMIN = {"host": HOST, "port": 5432, "user": "postgres", "dbname": "postgres"}


def make_database(prefix: str) -> str:
    """A fresh database named `<prefix>_<random>`, migrated to head; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(**PG_ADMIN)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    url = f"postgresql+psycopg2://postgres@{HOST}:5432/{name}"
    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
    return url


def drop_database(url: str) -> None:
    """Drop a database make_database made."""
    admin = psycopg2.connect(**PG_ADMIN)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    admin.close()
