"""`zamio station` and `zamio device`: register, list, revoke, write the broker's files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask.testing import FlaskCliRunner

from central.cli import cli
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
        "--reader",
        "zamio-ingest",
    )
    assert files.exit_code == 0, files.output
    user, stored = (tmp_path / "pw").read_text().strip().split(":", 1)
    assert user == "pi-01" and credentials.verify(password, stored)
    assert password not in (tmp_path / "pw").read_text()
    acl = (tmp_path / "acl").read_text()
    assert "user pi-01\ntopic write stations/joy-fm/devices/pi-01/#" in acl
    assert "user zamio-ingest\ntopic read stations/#" in acl
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
