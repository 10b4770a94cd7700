"""`zamio station` and `zamio device`: register, list, revoke, write the broker's files."""

from __future__ import annotations

import grp
import json
import os
import re
import stat
from pathlib import Path

from flask.testing import FlaskCliRunner

from central import times
from central.cli import cli
from central.extensions import db
from central.monitoring import store as monitoring
from central.stations import credentials


def invoke(runner: FlaskCliRunner, *args: str):
    return runner.invoke(cli, list(args))


def test_station_and_device_lifecycle(runner: FlaskCliRunner, tmp_path: Path) -> None:
    """Add a station and a device, list them, revoke the device; the password shows once."""
    result = invoke(
        runner,
        "station",
        "add",
        "joy-fm",
        "--name",
        "Joy FM",
        "--stream-url",
        "http://radio.example/joy.mp3",
    )
    assert result.exit_code == 0, result.output
    added = invoke(runner, "device", "add", "pi-01", "--station", "joy-fm")
    assert added.exit_code == 0, added.output
    password = re.search(r"password (\S+)", added.output).group(1)
    stations = json.loads(invoke(runner, "station", "list", "--json").output)
    assert stations == [
        {
            "code": "joy-fm",
            "name": "Joy FM",
            "stream_url": "http://radio.example/joy.mp3",
            "devices": ["pi-01"],
        }
    ]
    listed = invoke(runner, "device", "list", "--json")
    assert password not in listed.output
    assert json.loads(listed.output)[0]["active"] is True
    files = invoke(
        runner,
        "device",
        "broker-files",
        "--passwords",
        str(tmp_path / "pw"),
        "--acl",
        str(tmp_path / "acl"),
    )
    assert files.exit_code == 0, files.output
    user, stored = (tmp_path / "pw").read_text().strip().split(":", 1)
    assert user == "pi-01" and credentials.verify(password, stored)
    assert password not in (tmp_path / "pw").read_text()
    acl = (tmp_path / "acl").read_text()
    assert "user pi-01\ntopic write stations/joy-fm/devices/pi-01/batches\n" in acl
    assert invoke(runner, "device", "revoke", "pi-01").exit_code == 0
    assert json.loads(invoke(runner, "device", "list", "--json").output)[0]["active"] is False
    invoke(
        runner,
        "device",
        "broker-files",
        "--passwords",
        str(tmp_path / "pw"),
        "--acl",
        str(tmp_path / "acl"),
    )
    assert (tmp_path / "pw").read_text() == ""


def test_refusals_are_clear(runner: FlaskCliRunner) -> None:
    """Bad codes, duplicates, unknown stations and bad stream URLs are refused with a reason."""
    assert invoke(runner, "station", "add", "joy-fm", "--name", "Joy").exit_code == 0
    cases = [
        (("station", "add", "joy/fm", "--name", "X"), "letters, digits"),
        (("station", "add", "joy-fm", "--name", "X"), "exists already"),
        (("station", "add", "x", "--name", "X", "--stream-url", "ftp://a/b"), "stream URL"),
        (("station", "add", "x", "--name", "X", "--stream-url", "http://h:0/a"), "1..65535"),
        (("station", "add", "zamio-fm", "--name", "X"), "central's own"),
        (("device", "add", "zamio-ingest", "--station", "joy-fm"), "central's own"),
        (("device", "add", "Zamio-x", "--station", "joy-fm"), "central's own"),
        (("broker", "account", "add", "ingest"), "must begin 'zamio-'"),
        (("station", "edit", "joy-fm", "--stream-url", "file:///x"), "scheme must be"),
        (("station", "edit", "ghost", "--name", "X"), "no station ghost"),
        (("device", "rotate", "ghost"), "no device ghost"),
        (("device", "add", "pi-1", "--station", "nope"), "no station nope"),
        (("device", "add", "pi+1", "--station", "joy-fm"), "letters, digits"),
        (("device", "revoke", "ghost"), "no device ghost"),
    ]
    for args, message in cases:
        result = invoke(runner, *args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)


def test_mosquitto_hash_format() -> None:
    """The hash is Mosquitto's $7$ format and verifies only the right password."""
    stored = credentials.mosquitto_hash("s3cret", salt=bytes(12))
    assert stored.startswith("$7$101$AAAAAAAAAAAAAAAA$")
    assert credentials.verify("s3cret", stored) and not credentials.verify("s3cre", stored)
    assert not credentials.verify("s3cret", "plain")


def test_broker_accounts_lifecycle(runner: FlaskCliRunner, tmp_path: Path) -> None:
    """A service account's password shows once, only its hash is kept and written with every
    active device; rotate replaces it, remove drops it from the files."""
    added = invoke(runner, "broker", "account", "add", "zamio-ingest")
    assert added.exit_code == 0, added.output
    first = re.search(r"password (\S+)", added.output).group(1)
    assert "exists already" in invoke(runner, "broker", "account", "add", "zamio-ingest").output
    listed = invoke(runner, "broker", "account", "list", "--json")
    assert [row["name"] for row in json.loads(listed.output)] == ["zamio-ingest"]
    assert first not in listed.output
    rotated = invoke(runner, "broker", "account", "rotate", "zamio-ingest")
    second = re.search(r"password (\S+)", rotated.output).group(1)
    assert json.loads(invoke(runner, "broker", "account", "list", "--json").output)[0]["rotated_at"]
    pw, acl = tmp_path / "pw", tmp_path / "acl"
    invoke(runner, "device", "broker-files", "--passwords", str(pw), "--acl", str(acl))
    user, stored = pw.read_text().strip().split(":", 1)
    assert user == "zamio-ingest" and credentials.verify(second, stored)
    assert not credentials.verify(first, stored)
    assert "user zamio-ingest\ntopic write stations/+/devices/+/commands\n" in acl.read_text()
    assert invoke(runner, "broker", "account", "remove", "zamio-ingest").exit_code == 0
    result = invoke(runner, "device", "broker-files", "--passwords", str(pw), "--acl", str(acl))
    assert pw.read_text() == "" and "no broker account" in result.output


def test_passwords_can_go_to_a_file(runner: FlaskCliRunner, tmp_path: Path) -> None:
    """--password-file writes the password (0600) instead of printing it, for scripts; the
    stored hash is of that password; an unwritable file changes nothing."""
    invoke(runner, "station", "add", "joy-fm", "--name", "Joy FM")
    secret = tmp_path / "pi-01.password"
    added = invoke(
        runner, "device", "add", "pi-01", "--station", "joy-fm", "--password-file", str(secret)
    )
    assert added.exit_code == 0, added.output
    password = secret.read_text()
    assert password not in added.output and stat.S_IMODE(secret.stat().st_mode) == 0o600
    account = tmp_path / "ingest.password"
    assert (
        invoke(
            runner, "broker", "account", "add", "zamio-ingest", "--password-file", str(account)
        ).exit_code
        == 0
    )
    pw, acl = tmp_path / "pw", tmp_path / "acl"
    invoke(runner, "device", "broker-files", "--passwords", str(pw), "--acl", str(acl))
    hashes = dict(line.split(":", 1) for line in pw.read_text().split())
    assert credentials.verify(password, hashes["pi-01"])
    assert credentials.verify(account.read_text(), hashes["zamio-ingest"])
    missing = tmp_path / "no-such-dir" / "p"
    refused = invoke(runner, "device", "rotate", "pi-01", "--password-file", str(missing))
    assert refused.exit_code == 1 and "cannot write" in refused.output
    invoke(runner, "device", "broker-files", "--passwords", str(pw), "--acl", str(acl))
    hashes = dict(line.split(":", 1) for line in pw.read_text().split())
    assert credentials.verify(password, hashes["pi-01"]), "a failed rotate keeps the old password"


def test_rotate_and_restore_devices(runner: FlaskCliRunner, tmp_path: Path) -> None:
    """rotate gives a device a new password (the old one stops verifying); adding a revoked
    code restores it, active, with a new password."""
    invoke(runner, "station", "add", "joy-fm", "--name", "Joy FM")
    invoke(runner, "station", "add", "peace-fm", "--name", "Peace FM")
    first = re.search(
        r"password (\S+)", invoke(runner, "device", "add", "pi-01", "--station", "joy-fm").output
    ).group(1)
    rotated = invoke(runner, "device", "rotate", "pi-01")
    second = re.search(r"password (\S+)", rotated.output).group(1)
    pw, acl = tmp_path / "pw", tmp_path / "acl"
    invoke(runner, "device", "broker-files", "--passwords", str(pw), "--acl", str(acl))
    stored = pw.read_text().strip().split(":", 1)[1]
    assert credentials.verify(second, stored) and not credentials.verify(first, stored)
    invoke(runner, "device", "revoke", "pi-01")
    restored = invoke(runner, "device", "add", "pi-01", "--station", "peace-fm")
    assert restored.exit_code == 0 and "restored" in restored.output, restored.output
    third = re.search(r"password (\S+)", restored.output).group(1)
    row = json.loads(invoke(runner, "device", "list", "--json").output)[0]
    assert row["active"] is True and row["station"] == "peace-fm" and row["revoked_at"] is None
    invoke(runner, "device", "broker-files", "--passwords", str(pw), "--acl", str(acl))
    assert credentials.verify(third, pw.read_text().strip().split(":", 1)[1])
    assert (
        "exists already" in invoke(runner, "device", "add", "pi-01", "--station", "joy-fm").output
    )


def test_station_edit_and_remove(runner: FlaskCliRunner) -> None:
    """edit changes the name and stream link (or drops it); remove deletes a station with its
    devices only while nothing was recorded for them."""
    invoke(runner, "station", "add", "joy-fm", "--name", "Joy", "--stream-url", "http://a/x")
    assert invoke(runner, "station", "edit", "joy-fm", "--name", "Joy FM").exit_code == 0
    invoke(runner, "station", "edit", "joy-fm", "--stream-url", "https://b/y.m3u8")
    listed = json.loads(invoke(runner, "station", "list", "--json").output)[0]
    assert (listed["name"], listed["stream_url"]) == ("Joy FM", "https://b/y.m3u8")
    invoke(runner, "station", "edit", "joy-fm", "--no-stream-url")
    assert json.loads(invoke(runner, "station", "list", "--json").output)[0]["stream_url"] is None
    both = invoke(
        runner, "station", "edit", "joy-fm", "--stream-url", "http://a/x", "--no-stream-url"
    )
    assert both.exit_code != 0 and "not both" in both.output
    invoke(runner, "device", "add", "pi-01", "--station", "joy-fm")
    assert invoke(runner, "station", "remove", "joy-fm").exit_code == 0
    assert json.loads(invoke(runner, "station", "list", "--json").output) == []
    assert json.loads(invoke(runner, "device", "list", "--json").output) == []


def test_station_with_records_is_not_removed(app, runner: FlaskCliRunner) -> None:
    """A station whose device has a stored health event keeps its rows; the refusal says how
    to retire it instead."""
    invoke(runner, "station", "add", "joy-fm", "--name", "Joy")
    invoke(runner, "device", "add", "pi-01", "--station", "joy-fm")
    now = times.now_ms()
    event = {"kind": "stream_up", "device_id": "pi-01", "source_id": "s", "at_ms": now}
    with app.app_context():
        topic = "stations/joy-fm/devices/pi-01/events"
        outcome = monitoring.record_event(db.session, topic, json.dumps(event).encode(), now)
        db.session.commit()
    assert outcome.kind == "event", outcome
    refused = invoke(runner, "station", "remove", "joy-fm")
    assert refused.exit_code != 0 and "1 device_event" in refused.output, refused.output
    assert "--no-stream-url" in refused.output
    assert len(json.loads(invoke(runner, "station", "list", "--json").output)) == 1


def test_broker_files_modes_and_group(runner: FlaskCliRunner, tmp_path: Path) -> None:
    """Files are 0640 of the directory's group, keep the group a file already has, take
    --group, refuse an unknown group, and leave no temporary file."""
    invoke(runner, "station", "add", "joy-fm", "--name", "Joy")
    invoke(runner, "device", "add", "pi-01", "--station", "joy-fm")
    users = tmp_path / "dynsec.json"
    assert invoke(runner, "device", "broker-files", "--dynsec", str(users)).exit_code == 0
    assert stat.S_IMODE(users.stat().st_mode) == 0o640
    assert users.stat().st_gid == tmp_path.stat().st_gid
    other = next((g for g in grp.getgrall() if g.gr_gid != tmp_path.stat().st_gid), None)
    if os.geteuid() == 0 and other is not None:
        os.chown(users, -1, other.gr_gid)
        invoke(runner, "device", "broker-files", "--dynsec", str(users))
        assert users.stat().st_gid == other.gr_gid  # a hand-set group survives a rewrite
        invoke(runner, "device", "broker-files", "--dynsec", str(users), "--group", "root")
        assert users.stat().st_gid == 0
    bad = invoke(runner, "device", "broker-files", "--dynsec", str(users), "--group", "no-such")
    assert bad.exit_code != 0 and "no such group" in bad.output
    assert invoke(runner, "device", "broker-files").exit_code != 0
    assert [p.name for p in tmp_path.iterdir() if "dynsec" in p.name] == ["dynsec.json"]


def test_dynsec_config_confines_each_user() -> None:
    """The plugin's JSON: all denied by default, a device only its own five topics by name,
    services every device's reads (shared or not) and commands; the hash split as it wants."""
    stored = credentials.mosquitto_hash("pw", salt=bytes(12))
    config = json.loads(
        credentials.dynsec_config([("pi-01", "joy-fm", stored)], [("zamio-ingest", stored)])
    )
    assert not any(v for k, v in config["defaultACLAccess"].items() if k != "unsubscribe")
    device, service = config["clients"]
    assert (device["salt"], device["iterations"]) == ("AAAAAAAAAAAAAAAA", 101)
    assert "$7$101$AAAAAAAAAAAAAAAA$" + device["password"] == stored
    roles = {role["rolename"]: role["acls"] for role in config["roles"]}
    own = {(a["acltype"], a["topic"]) for a in roles[device["roles"][0]["rolename"]]}
    base = "stations/joy-fm/devices/pi-01"
    assert own == {
        ("publishClientSend", f"{base}/{k}") for k in ("batches", "events", "status")
    } | {
        (kind, f"{base}/{k}")
        for k in ("commands", "config")
        for kind in ("subscribeLiteral", "publishClientReceive")
    }
    services = {(a["acltype"], a["topic"]) for a in roles[service["roles"][0]["rolename"]]}
    assert ("subscribePattern", "$share/zamio-ingest/stations/+/devices/+/batches") in services
    assert ("publishClientSend", "stations/+/devices/+/commands") in services
    assert not any("#" in topic or "CONTROL" in topic for _, topic in own | services)
