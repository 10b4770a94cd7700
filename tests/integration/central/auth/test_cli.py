"""`zamio user`, `zamio token` and `zamio audit`: a user added with a password from stdin gets
a token on the last line that the API accepts; disable, link, invite and revoke act at once and
are audited as cli:<login>."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from central.cli import cli
from tests.integration.central.rows import add_station

pytestmark = pytest.mark.integration

PASSWORD = "a long enough passphrase"


def _ok(runner: FlaskCliRunner, args: list[str], stdin: str | None = None) -> str:
    """Run a command that must succeed; its output."""
    result = runner.invoke(cli, args, input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_cli_made_user_and_token_read_the_api(pg_app: Flask, pg_runner: FlaskCliRunner) -> None:
    """user add --password-stdin, token create (token alone on the last line, the role's read
    scopes by default) → /me answers as that user; the password never appears in the output."""
    out = _ok(
        pg_runner,
        [
            "user",
            "add",
            "Ama@Artists.test",
            "--role",
            "artist",
            "--party",
            "artist:ama:earnings",
            "--password-stdin",
        ],
        PASSWORD + "\n",
    )
    assert "ama@artists.test" in out and PASSWORD not in out
    token = _ok(pg_runner, ["token", "create", "ama@artists.test"]).strip().splitlines()[-1]
    me = pg_app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["parties"] == ["artist:ama:earnings"]
    assert me.json["token_scopes"] == [
        "catalog:read", "ledger:read", "notifications:read", "plays:read",
    ]  # fmt: skip
    listed = _ok(pg_runner, ["token", "list", "ama@artists.test"])
    assert token[:22] in listed and token not in listed


def test_disable_stops_tokens_and_everything_is_audited(
    pg_app: Flask, pg_runner: FlaskCliRunner
) -> None:
    """user disable: the token is refused at once; audit shows add, token.create, disable."""
    with pg_app.app_context():
        from central.extensions import db

        add_station(db.session, "joy-fm")
        db.session.commit()
    out = _ok(
        pg_runner, ["user", "add", "desk@joy.test", "--role", "station", "--station", "joy-fm"]
    )
    assert "one-time password" in out
    token = (
        _ok(
            pg_runner,
            ["token", "create", "desk@joy.test", "--scope", "stations:read", "--expires", "2d"],
        )
        .strip()
        .splitlines()[-1]
    )
    client = pg_app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/stations/joy-fm", headers=headers).status_code == 200
    _ok(pg_runner, ["user", "disable", "desk@joy.test"])
    assert client.get("/api/v1/stations/joy-fm", headers=headers).status_code == 401
    rows = json.loads(_ok(pg_runner, ["audit", "--json"]))
    assert [r["action"] for r in rows] == ["user.add", "token.create", "user.disable"]
    assert all(r["actor"].startswith("cli:") and r["via"] == "cli" for r in rows)
    users = json.loads(_ok(pg_runner, ["user", "list", "--json"]))
    assert users[0]["active"] is False and "password_hash" not in users[0]


def test_bad_input_is_one_clear_line(pg_runner: FlaskCliRunner) -> None:
    """Unknown station, missing party, bad scope, bad expiry, weak password: exit 1 and why."""
    cases = [
        (["user", "add", "a@b.test", "--role", "station", "--station", "nope"], None, "no station"),
        (["user", "add", "a@b.test", "--role", "artist"], None, "needs --party"),
        (["user", "add", "not-an-email", "--role", "admin"], None, "not an email"),
        (["user", "add", "a@b.test", "--role", "admin", "--password-stdin"], "short\n", "at least"),
    ]
    for args, stdin, message in cases:
        result = pg_runner.invoke(cli, args, input=stdin)
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    _ok(pg_runner, ["user", "add", "ops@z.test", "--role", "admin"])
    for args, message in [
        (["token", "create", "ops@z.test", "--scope", "root"], "unknown"),
        (["token", "create", "ops@z.test", "--expires", "400d"], "at most 366"),
        (["token", "create", "nobody@z.test"], "no user"),
        (["token", "revoke", "999"], "no token 999"),
    ]:
        result = pg_runner.invoke(cli, args)
        assert result.exit_code == 1 and message in result.output, (args, result.output)


def test_invite_goes_to_the_outbox(pg_runner: FlaskCliRunner) -> None:
    """user add --invite: no password, a mail in the outbox with a link that sets one."""
    _ok(pg_runner, ["user", "add", "society@x.test", "--role", "auditor", "--invite"])
    out = _ok(pg_runner, ["user", "outbox"])
    assert "To: society@x.test" in out and "/password?token=zamio_otk_" in out


def test_the_audit_log_is_append_only(pg_app: Flask, pg_runner: FlaskCliRunner) -> None:
    """PostgreSQL refuses UPDATE and DELETE of audit events (a trigger)."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from central.extensions import db

    _ok(pg_runner, ["user", "add", "ops@z.test", "--role", "admin"])
    with pg_app.app_context():
        for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(IntegrityError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()


def test_every_cli_write_is_audited(pg_runner: FlaskCliRunner, tmp_path) -> None:  # noqa: ANN001
    """Commands with no audit code of their own (station add, device add) leave one event each
    with their parameters, secrets hidden; a read-only command leaves none."""
    url = "https://listener:hunter2@stream.test/joy"
    _ok(pg_runner, ["station", "add", "joy-fm", "--name", "Joy FM", "--stream-url", url])
    secret_file = tmp_path / "pi.pass"
    _ok(pg_runner, ["device", "add", "pi-01", "--station", "joy-fm", "--password-file",
                    str(secret_file)])  # fmt: skip
    _ok(pg_runner, ["station", "list"])
    rows = json.loads(_ok(pg_runner, ["audit", "--json"]))
    assert [(r["action"], r["object_id"]) for r in rows] == [
        ("station.add", "joy-fm"),
        ("device.add", "pi-01"),
    ]
    assert rows[0]["changes"]["stream_url"] == "https://listener:***@stream.test/joy"
    assert rows[1]["changes"]["password_file"] == "***"
    assert "hunter2" not in json.dumps(rows) and secret_file.read_text() not in json.dumps(rows)
