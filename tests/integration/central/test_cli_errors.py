"""`zamio` against a real PostgreSQL that has no such database: one line saying how to make it."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from central.cli import cli
from tests.integration.conftest import HOST, POSTGRES_PORT, POSTGRES_USER, require_service

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("args", [["db", "upgrade"], ["status"], ["catalog", "list"]])
def test_a_missing_database_says_how_to_create_it(args: list[str]) -> None:
    """A database name PostgreSQL does not have: one line with the createdb command for it and
    CREATE DATABASE, exit 1, and the database is not created behind the operator's back."""
    require_service("PostgreSQL", POSTGRES_PORT)
    name = f"zamio_missing_{uuid.uuid4().hex[:8]}"
    url = f"postgresql://{POSTGRES_USER}@{HOST}:{POSTGRES_PORT}/{name}"
    result = CliRunner().invoke(cli, args, env={"ZAMIO_DATABASE_URL": url})
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert f"database {name} does not exist" in line and "ZAMIO_DATABASE_URL" in line
    assert f"`createdb -h {HOST} -p {POSTGRES_PORT} -U {POSTGRES_USER} {name}`" in line
    assert f'CREATE DATABASE "{name}"' in line
    again = CliRunner().invoke(cli, ["db", "current"], env={"ZAMIO_DATABASE_URL": url})
    assert again.exit_code == 1 and "does not exist" in again.stderr
