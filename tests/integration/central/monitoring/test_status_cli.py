"""`zamio status` on PostgreSQL: every device's state, sources, spool, clock and latest events,
as JSON and as lines, for all stations or one."""

from __future__ import annotations

import json
import time

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from central.cli import cli
from central.extensions import db
from central.monitoring import cli as monitoring_cli
from central.monitoring.store import record_event, record_status
from central.stations import store as stations
from central.times import at_ms
from tests.unit.central.monitoring.payloads import event, heartbeat, offline, source_body

pytestmark = pytest.mark.integration


def topic(device: str, kind: str, station: str = "joy-fm") -> str:
    return f"stations/{station}/devices/{device}/{kind}"


@pytest.fixture
def fleet(pg_app: Flask) -> int:
    """joy-fm: pi-01 online (am down), pi-02 stale, pi-03 offline, pi-04 never seen; peace-fm
    empty. Returns now in ms: `zamio status` reads the real clock."""
    now_ms = time.time_ns() // 1_000_000
    sources = {"fm": source_body(), "am": source_body(state="down", last_error="ffmpeg_exit: 404")}
    with pg_app.app_context():
        session = db.session
        stations.add_station(session, "joy-fm", "Joy FM")
        stations.add_station(session, "peace-fm", "Peace FM")
        for code in ("pi-01", "pi-02", "pi-03", "pi-04"):
            stations.add_device(session, code, "joy-fm")
        beat = heartbeat(now_ms, sources=sources)
        record_status(session, topic("pi-01", "status"), beat, now_ms)
        down = event("stream_down", now_ms - 5_000, "am", reason="ffmpeg_exit")
        record_event(session, topic("pi-01", "events"), down, now_ms)
        old_ms = now_ms - 600_000
        stale = heartbeat(old_ms, device="pi-02")
        record_status(session, topic("pi-02", "status"), stale, old_ms)
        record_status(session, topic("pi-03", "status"), offline("shutdown", "pi-03"), now_ms)
        session.commit()
    return now_ms


def test_status_json_reports_each_device(pg_runner: FlaskCliRunner, fleet: int) -> None:
    """--json gives every station and device with state, sources, spool, clock and events."""
    result = pg_runner.invoke(cli, ["status", "--json"])
    assert result.exit_code == 0, result.output
    joy, peace = json.loads(result.stdout)
    assert (peace["station"], peace["devices"]) == ("peace-fm", [])
    devices = {d["device"]: d for d in joy["devices"]}
    states = {code: d["state"] for code, d in devices.items()}
    assert states == {
        "pi-01": "online",
        "pi-02": "stale",
        "pi-03": "offline",
        "pi-04": "never_seen",
    }
    pi01 = devices["pi-01"]
    assert pi01["sources"]["am"]["state"] == "down" and pi01["sources"]["fm"]["state"] == "up"
    assert pi01["sources"]["am"]["last_error"] == "ffmpeg_exit: 404"
    assert pi01["spool"]["depth"] == 3 and pi01["clock"]["sync_state"] == "synced"
    assert [(e["kind"], e["source_id"]) for e in pi01["events"]] == [("stream_down", "am")]
    assert 599 < devices["pi-02"]["last_seen_age_s"] < 700
    assert devices["pi-03"]["offline_reason"] == "shutdown"


def test_status_lines_for_one_station(
    pg_runner: FlaskCliRunner, fleet: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --json, one line per device, source and event; --station limits the listing.
    The command's clock is fixed at the fleet's now, so ages are exact (a slow run is no
    "seen 1 s ago")."""
    monkeypatch.setattr(monitoring_cli, "utc_now", lambda: at_ms(fleet))
    result = pg_runner.invoke(cli, ["status", "--station", "joy-fm"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "joy-fm (Joy FM)" and "peace-fm" not in result.stdout
    assert lines[1].startswith("  pi-01  online  seen 0 s ago  spool 3 (oldest 31 s)")
    assert "clock synced" in lines[1]
    assert (
        lines[2].startswith("    am           down") and "last error: ffmpeg_exit: 404" in lines[2]
    )
    assert lines[3].startswith("    fm           up         -18.2 dBFS  since ")
    assert lines[4].endswith("  am  stream_down  reason=ffmpeg_exit")
    heads = [line for line in lines if line.startswith("  pi-")]
    assert heads[0] == lines[1] and heads[1].startswith("  pi-02  stale  seen 10 min ago")
    assert heads[2].startswith("  pi-03  offline  (shutdown, since ")
    assert heads[3] == lines[-1] == "  pi-04  never seen"


def test_status_of_an_unknown_station_is_an_error(pg_runner: FlaskCliRunner, fleet: int) -> None:
    """A station code that does not exist is a one-line error, not a traceback."""
    result = pg_runner.invoke(cli, ["status", "--station", "nowhere-fm"])
    assert result.exit_code == 1
    assert "no station nowhere-fm" in result.output and "Traceback" not in result.output
