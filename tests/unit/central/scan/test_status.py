"""The scan status file and `zamio scan status`: per-link state, last match, supervisor liveness."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from central.catalog.models import Track
from central.cli import cli
from central.extensions import db
from central.plays.models import Play
from central.scan import status, supervisor
from central.scan.supervisor import Limits, LinkSpec
from central.stations import store

LIMITS = Limits(agents_max=1)
URL = "http://listener:hunter2@radio.example/live.mp3"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def records(now_s: float = 100.0) -> list[dict]:
    """A running link, one waiting for a slot, and one in backoff after SIGKILL."""
    specs = {code: LinkSpec(code, f"scan-{code}", URL) for code in ("joy", "peace", "adom")}
    links = {code: supervisor.new_link(spec, 0.0) for code, spec in specs.items()}
    links["joy"] = supervisor.on_started(links["joy"], 4242, 0.0, LIMITS)
    links, _ = supervisor.plan_starts(links, 1.0, LIMITS)
    adom = supervisor.on_started(links["adom"], 99, 0.0, LIMITS)
    links["adom"] = supervisor.on_exit(
        adom, -9, "killed by SIGKILL", 99.0, LIMITS, random.Random(1)
    )
    wall_offset_s = time.time() - now_s
    return [
        status.link_record(link, "up" if link.pid else None, None, LIMITS, now_s, wall_offset_s)
        for link in links.values()
    ]


def write(state_dir: Path, pid: int, written_ms: int, stopped: bool = False) -> None:
    """A status file as a supervisor with `pid` wrote it at `written_ms`."""
    state_dir.mkdir(parents=True, exist_ok=True)
    document = status.status_document(
        records(), LIMITS, written_ms - 60_000, written_ms, stopped, []
    )
    document["pid"] = pid
    status.write_status(status.status_path(state_dir), document)


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_link_records_show_state_wait_reason_backoff_and_hide_passwords() -> None:
    """Each link says its state; a waiting one why; a crashed one its exit and next start; the
    stream URL's password never shows."""
    by_station = {record["station"]: record for record in records()}
    assert by_station["joy"]["state"] == supervisor.STARTING
    assert by_station["joy"]["pid"] == 4242 and by_station["joy"]["stream"] == "up"
    assert by_station["peace"]["state"] == supervisor.WAITING
    assert "free slot" in by_station["peace"]["note"]
    adom = by_station["adom"]
    assert adom["state"] == supervisor.BACKOFF and adom["last_exit"] == "killed by SIGKILL"
    assert adom["next_start_ms"] > adom["since_ms"]
    assert "hunter2" not in json.dumps(records())


def test_status_merges_the_last_match_while_the_supervisor_runs(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """A fresh file of a live pid: running, exit 0; the last match comes from the database."""
    with app.app_context():
        station = store.add_station(db.session, "joy", "Joy", URL)
        track = Track(external_id="T1", title="Song", duration_ms=1000, content_hash="0" * 16)
        db.session.add(track)
        db.session.flush()
        db.session.add(
            Play(
                station_id=station.id,
                track_id=track.id,
                start_ms=now_ms() - 90_000,
                end_ms=now_ms() - 60_000,
                speed_ratio=1.0,
                inliers=1,
                detections=1,
                confidence=1.0,
            )
        )
        db.session.commit()
    write(tmp_path / "scan", os.getpid(), now_ms())
    result = runner.invoke(cli, ["scan", "status", "--state-dir", str(tmp_path / "scan"), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["supervisor"] == status.RUNNING
    last = {link["station"]: link["last_match_ms"] for link in document["links"]}
    assert last["joy"] is not None and now_ms() - last["joy"] >= 60_000
    assert last["peace"] is None
    text = runner.invoke(cli, ["scan", "--state-dir", str(tmp_path / "scan"), "status"])
    assert text.exit_code == 0, text.output
    assert text.output.startswith("scan supervisor running")
    assert "joy" in text.output and "last match 20" in text.output
    assert "killed by SIGKILL" in text.output and "next start in" in text.output


def test_status_says_when_the_supervisor_is_not_running(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """A gone pid, a file no longer written, and a clean stop each say so, with exit 3."""
    cases = [
        (dead_pid(), now_ms(), False, "NOT running: pid"),
        (os.getpid(), now_ms() - status.STALE_MS - 5000, False, "NOT responding"),
        (os.getpid(), now_ms(), True, "scan supervisor stopped at"),
    ]
    for pid, written_ms, stopped, expected in cases:
        write(tmp_path / "scan", pid, written_ms, stopped)
        result = runner.invoke(cli, ["scan", "status", "--state-dir", str(tmp_path / "scan")])
        assert result.exit_code == 3, result.output
        assert expected in result.output
        assert "as the supervisor last wrote them" in result.output


def test_status_without_a_status_file_is_an_error(runner: FlaskCliRunner, tmp_path: Path) -> None:
    """No status file: an error naming the file, not an empty report."""
    result = runner.invoke(cli, ["scan", "status", "--state-dir", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "scan-status.json" in result.output
