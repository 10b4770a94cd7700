"""Fixtures for every test: an environment kept off the user's data, and a Flask app on SQLite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from central import create_app
from central.extensions import db


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Drop the caller's ZAMIO_* settings and point the user's data dir into tmp_path."""
    for key in list(os.environ):
        if key.startswith("ZAMIO_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def unavailable(message: str) -> None:
    """A service or tool the test needs is missing: skip, or fail when CI=true (CI must not pass
    by skipping)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def disposed(app: Flask) -> None:
    """Close every pooled database connection of `app`."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a fresh SQLite file, migrated to head on creation."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'zamio.db'}", "TESTING": True})
    yield app
    disposed(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An HTTP test client of `app`."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner bound to `app`: invoke `central.cli.cli` with it."""
    return app.test_cli_runner()
