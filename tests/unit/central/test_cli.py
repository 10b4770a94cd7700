"""Tests for the `zamio` command group: every domain's commands are reachable."""

from __future__ import annotations

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import inspect

from central import schema
from central.cli import COMMANDS, cli
from central.extensions import db


def test_commands_are_registered() -> None:
    """Each command in COMMANDS is a subcommand of zamio under its own name."""
    for command in COMMANDS:
        assert cli.commands[command.name] is command


def test_help_lists_domain_commands() -> None:
    """`zamio --help` builds the app from the environment and lists catalog and db."""
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    assert "catalog" in result.stdout and "db" in result.stdout


def test_db_group_downgrades_and_upgrades(app: Flask, runner: FlaskCliRunner) -> None:
    """`zamio db downgrade` and `zamio db upgrade` (Flask-Migrate) use the packaged migrations."""
    assert runner.invoke(cli, ["db", "downgrade", "base"]).exit_code == 0
    with app.app_context():
        assert "track" not in inspect(db.engine).get_table_names()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    with app.app_context():
        assert schema.current_revisions(db.engine) == schema.head_revisions()
        assert "track" in inspect(db.engine).get_table_names()


def test_bad_configuration_is_an_error_message_not_a_traceback() -> None:
    """An unknown ZAMIO_ variable stops every command with the list of problems, exit code 2."""
    result = CliRunner().invoke(cli, ["catalog", "list"], env={"ZAMIO_BOGUS": "1"})
    assert result.exit_code == 2
    assert "ZAMIO_BOGUS: unknown setting" in result.stderr
    assert "Traceback" not in result.output
