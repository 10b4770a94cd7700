"""Tests for the `zamio` command group: every domain's commands are reachable, Flask's own are
not, and a database or Redis that cannot be reached is one line, whatever the command."""

from __future__ import annotations

import socket
from importlib.metadata import version

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import inspect

from central import create_app, schema
from central.cli import COMMANDS, cli
from central.extensions import db
from edge_agent.fingerprint import FINGERPRINT_VERSION


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_commands_are_registered() -> None:
    """Each command in COMMANDS is a subcommand of zamio under its own name."""
    for command in COMMANDS:
        assert cli.commands[command.name] is command


def test_help_lists_domain_commands_and_not_flasks() -> None:
    """`zamio --help` lists the domains' commands; Flask's run, shell and routes are not there."""
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line}
    assert listed == {command.name for command in COMMANDS}
    for flask_command in ("run", "shell", "routes"):
        assert CliRunner().invoke(cli, [flask_command]).exit_code == 2


def test_version_is_zamios_with_the_fingerprint_version() -> None:
    """`zamio --version` names ZamIO's version and the fingerprint version, not Flask's."""
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    expected = f"zamio {version('zamio')} (fingerprint version {FINGERPRINT_VERSION})"
    assert result.stdout.strip() == expected


def test_db_offers_only_the_operators_commands() -> None:
    """`zamio db` lists upgrade, current and check; Flask-Migrate's authoring commands are gone."""
    result = CliRunner().invoke(cli, ["db", "--help"])
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line}
    assert listed == {"upgrade", "current", "check"}
    for authoring in ("init", "migrate", "edit", "revision", "stamp"):
        assert CliRunner().invoke(cli, ["db", authoring]).exit_code == 2


def test_db_upgrade_current_and_check(app: Flask, runner: FlaskCliRunner) -> None:
    """check fails and current says behind on a downgraded database; upgrade brings it to head."""
    assert runner.invoke(cli, ["db", "downgrade", "base"]).exit_code == 0
    with app.app_context():
        assert "track" not in inspect(db.engine).get_table_names()
    current = runner.invoke(cli, ["db", "current"])
    assert current.exit_code == 0
    assert current.stdout.startswith("database no revision, zamio revision ")
    assert "behind: run `zamio db upgrade`" in current.stdout
    check = runner.invoke(cli, ["db", "check"])
    assert check.exit_code == 1 and "run `zamio db upgrade`" in check.stderr
    upgrade = runner.invoke(cli, ["db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    with app.app_context():
        head = schema.head_revisions()
        assert schema.current_revisions(db.engine) == head
        assert "track" in inspect(db.engine).get_table_names()
    assert upgrade.stdout.strip() == f"database schema at revision {', '.join(sorted(head))}"
    assert runner.invoke(cli, ["db", "check"]).exit_code == 0
    assert runner.invoke(cli, ["db", "current"]).stdout.strip().endswith(": current")


def test_bad_configuration_is_an_error_message_not_a_traceback() -> None:
    """An unknown ZAMIO_ variable stops every command with the list of problems, exit code 2."""
    result = CliRunner().invoke(cli, ["catalog", "list"], env={"ZAMIO_BOGUS": "1"})
    assert result.exit_code == 2
    assert "ZAMIO_BOGUS: unknown setting" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [["db", "upgrade"], ["db", "current"], ["plays", "--station", "joy-fm"], ["station", "list"]],
)
def test_an_unreachable_postgresql_is_one_line(args: list[str]) -> None:
    """Nothing listening at the URL's port: one line naming the URL, its password hidden, and
    ZAMIO_DATABASE_URL; exit 1; whichever command."""
    url = f"postgresql://zamio:s3cret-pw@127.0.0.1:{closed_port()}/zamio"
    result = CliRunner().invoke(cli, args, env={"ZAMIO_DATABASE_URL": url})
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "postgresql+psycopg2://zamio:***@127.0.0.1:" in line
    assert "ZAMIO_DATABASE_URL" in line and "Connection refused" in line
    assert "s3cret-pw" not in result.output


def test_an_unreachable_redis_is_one_line() -> None:
    """`zamio worker` with nothing at ZAMIO_REDIS_URL: one line naming it, exit 1."""
    url = f"redis://:s3cret-pw@127.0.0.1:{closed_port()}/0"
    result = CliRunner().invoke(cli, ["worker", "--burst"], env={"ZAMIO_REDIS_URL": url})
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: cannot reach Redis at redis://:***@127.0.0.1:")
    assert "(ZAMIO_REDIS_URL)" in line and "s3cret-pw" not in result.output


def test_the_error_names_the_url_of_the_app_the_command_used() -> None:
    """An app built with its own database URL (not the environment's) is the one the line
    names."""
    url = f"postgresql://ops@127.0.0.1:{closed_port()}/zamio_elsewhere"
    app = create_app({"DATABASE_URL": url})
    result = app.test_cli_runner().invoke(cli, ["db", "current"])
    assert result.exit_code == 1
    assert "postgresql+psycopg2://ops@127.0.0.1:" in result.stderr
    assert "/zamio_elsewhere (ZAMIO_DATABASE_URL)" in result.stderr
