"""Tests for central.create_app and central.schema: a fresh machine gets a migrated SQLite file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, text

from central import create_app, schema
from central.errors import SchemaError
from central.extensions import db
from tests.conftest import disposed


def test_fresh_machine_gets_a_migrated_database_in_the_data_dir() -> None:
    """With no settings, create_app makes $XDG_DATA_HOME/zamio/zamio.db at the head revision."""
    app = create_app()
    try:
        path = Path(os.environ["XDG_DATA_HOME"]) / "zamio" / "zamio.db"
        assert path.is_file()
        with app.app_context():
            assert schema.current_revisions(db.engine) == schema.head_revisions()
            assert {"track", "track_fingerprint"} <= set(inspect(db.engine).get_table_names())
    finally:
        disposed(app)


def test_models_match_the_migrations(app: Flask) -> None:
    """The tables the migrations build are the tables the models describe (no autogenerate diff)."""
    with app.app_context(), db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_auto_upgrade_can_be_turned_off(tmp_path: Path) -> None:
    """DATABASE_AUTO_UPGRADE=false leaves a new SQLite database unmigrated, and behind."""
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'raw.db'}", "DATABASE_AUTO_UPGRADE": False}
    )
    try:
        with app.app_context():
            assert schema.current_revisions(db.engine) == set()
            with pytest.raises(SchemaError, match="run `zamio db upgrade`"):
                schema.require_current(db.engine)
    finally:
        disposed(app)


def test_database_newer_than_the_code_is_refused(app: Flask) -> None:
    """A revision this code does not know is an error, not something to upgrade past."""
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
        with pytest.raises(SchemaError, match="f00dfeed is newer than this zamio"):
            schema.is_behind(db.engine)


def test_health_ok(client: FlaskClient) -> None:
    """GET /health answers 200 when the database is reachable and current."""
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_reports_a_schema_behind(app: Flask, client: FlaskClient) -> None:
    """GET /health answers 503 when the schema needs an upgrade."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
    response = client.get("/health")
    assert response.status_code == 503
    assert "zamio db upgrade" in response.get_json()["database"]


def test_settings_logged_without_secrets(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """The settings the app logs at start have passwords redacted."""
    caplog.set_level(logging.INFO, logger="central")
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'z.db'}",
            "REDIS_URL": "redis://:topsecret@127.0.0.1:6379/0",
        }
    )
    disposed(app)
    assert "redis://:***@127.0.0.1:6379/0" in caplog.text
    assert "topsecret" not in caplog.text
