"""Accounts on the embedded defaults (SQLite): a CLI-made user's token reads the API, and the
audit log refuses UPDATE and DELETE there as on PostgreSQL."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from central.cli import cli
from central.extensions import db


def test_user_and_token_on_sqlite(app: Flask, runner: FlaskCliRunner) -> None:
    """user add + token create on SQLite: /api/v1/me answers with 200 for the token."""
    added = runner.invoke(cli, ["user", "add", "ops@z.test", "--role", "admin"])
    assert added.exit_code == 0, added.output
    made = runner.invoke(cli, ["token", "create", "ops@z.test", "--scope", "admin"])
    token = made.output.strip().splitlines()[-1]
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["role"] == "admin"


def test_the_audit_log_is_append_only_on_sqlite(app: Flask, runner: FlaskCliRunner) -> None:
    """The database itself refuses to change or delete an audit event."""
    runner.invoke(cli, ["user", "add", "ops@z.test", "--role", "admin"])
    with app.app_context():
        for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
            with pytest.raises((IntegrityError, OperationalError), match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.execute(text("SELECT count(*) FROM audit_event")).scalar() == 1
