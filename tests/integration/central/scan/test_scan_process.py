"""`zamio scan` with real processes: agents for boxless stream links publish through Mosquitto,
die and come back with backoff, report their errors, follow the station list, and stop with
the supervisor."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from central.cli import cli
from central.extensions import db
from central.scan.cli import EXIT_NOT_RUNNING
from central.stations import credentials, store
from edge_agent.batch import decode_batch
from tests.integration.central.scan.conftest import (
    TopicRecorder,
    add_station,
    process_gone,
    set_stream_url,
)
from tests.integration.edge_agent.conftest import Icecast, free_port, wait_until

pytestmark = pytest.mark.integration

PINK_NOISE = ["-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.3:sample_rate=22050"]


def dead_url() -> str:
    """A stream URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/nothing.mp3"


def running(link: dict) -> bool:
    return link["state"] in ("starting", "running") and link["pid"] is not None


def test_a_boxless_station_is_scanned_and_its_batches_reach_the_broker(
    pg_app: Flask, icecast: Icecast, recorder: TopicRecorder, start_scan
) -> None:
    """A station with a stream link and no box gets an agent, as device scan-<code>, whose
    batches arrive on its own topic; a station with a box on the same stream does not."""
    icecast.feed(PINK_NOISE)
    add_station(pg_app, "joy-fm", icecast.url())
    add_station(pg_app, "boxed-fm", icecast.url(), box="pi-boxed")
    scan = start_scan()
    topic = "stations/joy-fm/devices/scan-joy-fm/batches"
    wait_until(lambda: recorder.payloads(topic), 60, f"a batch on {topic}")
    batch = decode_batch(recorder.payloads(topic)[0])
    assert (batch.device_id, batch.source_id) == ("scan-joy-fm", "stream")
    assert set(recorder.topics("batches")) == {topic}
    link = scan.wait_link("joy-fm", lambda link: link["stream"] == "up", "the stream up")
    assert link["device"] == "scan-joy-fm" and running(link) and link["restarts"] == 0
    assert scan.link("boxed-fm") is None
    password_file = scan.state_dir / "scan-joy-fm.password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    with pg_app.app_context():
        device = store.find_device(db.session, "scan-joy-fm")
        assert device is not None and device.station.code == "joy-fm"
        assert credentials.verify(password_file.read_text().strip(), device.password_hash)


def test_a_killed_agent_is_restarted_after_a_backoff(pg_app: Flask, start_scan) -> None:
    """SIGKILL to an agent: the link backs off, then runs a new process; the status shows
    restarts 1 and the last exit."""
    add_station(pg_app, "joy-fm", dead_url())
    scan = start_scan()
    first = scan.wait_link("joy-fm", running, "the agent to start")
    os.kill(first["pid"], signal.SIGKILL)
    seen: set[str] = set()

    def restarted(link: dict) -> bool:
        seen.add(link["state"])
        return running(link) and link["pid"] != first["pid"]

    link = scan.wait_link("joy-fm", restarted, "the agent to be restarted")
    assert "backoff" in seen, f"states seen: {seen}"
    assert (link["restarts"], link["exit_code"]) == (1, -9)
    assert link["last_exit"] == "killed by SIGKILL"
    assert "killed by SIGKILL; backoff, restart in 2.0 s" in scan.text()
    assert process_gone(first["pid"])


def test_a_dead_stream_shows_the_agents_error(
    pg_app: Flask, pg_runner: FlaskCliRunner, start_scan
) -> None:
    """A stream URL where nothing listens: the agent stays up and retries; the link shows the
    stream down with ffmpeg's error, here and in `zamio scan status`."""
    add_station(pg_app, "silent-fm", dead_url())
    scan = start_scan()
    link = scan.wait_link(
        "silent-fm",
        lambda link: (
            link["stream"] == "down" and "Connection refused" in (link["last_error"] or "")
        ),
        "the agent's stream error",
    )
    assert running(link) and link["last_error_ms"] is not None
    result = pg_runner.invoke(cli, ["scan", "status", "--state-dir", str(scan.state_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("scan supervisor running")
    assert "silent-fm" in result.output and "Connection refused" in result.output


def test_an_agent_refusing_its_config_is_not_restarted_until_the_link_changes(
    pg_app: Flask, start_scan
) -> None:
    """Exit 2 (a URL the agent refuses, stored before `station add` checked URLs as the agent
    does): config_error with the agent's words, no restart; a corrected URL starts it again."""
    add_station(pg_app, "bad-fm", None)
    set_stream_url(pg_app, "bad-fm", "http://127.0.0.1:0/live.mp3")
    scan = start_scan()
    link = scan.wait_link("bad-fm", lambda link: link["state"] == "config_error", "config_error")
    assert link["exit_code"] == 2 and "port within 1..65535" in link["last_error"]
    time.sleep(3.0)  # longer than the first backoff: a blind restart would show by now
    assert scan.link("bad-fm")["restarts"] == 0
    set_stream_url(pg_app, "bad-fm", dead_url())
    link = scan.wait_link("bad-fm", running, "the corrected link to start")
    assert link["exit_code"] is None and link["restarts"] == 0


def test_the_link_list_follows_the_database(pg_app: Flask, start_scan) -> None:
    """A station added while running is scanned; removing its stream URL stops its agent and
    drops the link."""
    scan = start_scan()
    wait_until(lambda: scan.status() is not None, 30, "the first status file")
    add_station(pg_app, "new-fm", dead_url())
    link = scan.wait_link("new-fm", running, "the new station's agent")
    set_stream_url(pg_app, "new-fm", None)
    wait_until(lambda: scan.link("new-fm") is None, 30, "the link to be dropped")
    wait_until(lambda: process_gone(link["pid"]), 10, "the agent to exit")


def test_sigterm_stops_the_supervisor_and_every_agent(
    pg_app: Flask, pg_runner: FlaskCliRunner, recorder: TopicRecorder, start_scan
) -> None:
    """SIGTERM: every agent stops cleanly (its goodbye status is offline), the supervisor
    exits 0, and `zamio scan status` says it stopped (exit 3)."""
    add_station(pg_app, "one-fm", dead_url())
    add_station(pg_app, "two-fm", dead_url())
    scan = start_scan()
    pids = [
        scan.wait_link(code, running, f"{code}'s agent")["pid"] for code in ("one-fm", "two-fm")
    ]
    topics = [f"stations/{code}/devices/scan-{code}/status" for code in ("one-fm", "two-fm")]

    def last_states() -> list[str | None]:
        payloads = [recorder.payloads(topic) for topic in topics]
        return [json.loads(p[-1])["state"] if p else None for p in payloads]

    wait_until(lambda: None not in last_states(), 30, "both agents online")
    scan.process.send_signal(signal.SIGTERM)
    assert scan.process.wait(30) == 0, scan.text()
    assert all(process_gone(pid) for pid in pids)
    wait_until(lambda: last_states() == ["offline", "offline"], 10, "both goodbyes")
    document = scan.status()
    assert document["stopped_ms"] is not None
    assert {link["state"] for link in document["links"]} == {"stopped"}
    result = pg_runner.invoke(cli, ["scan", "status", "--state-dir", str(scan.state_dir)])
    assert result.exit_code == EXIT_NOT_RUNNING, result.output
    assert "scan supervisor stopped at" in result.output


def test_agents_left_by_a_killed_supervisor_are_stopped_by_the_next(
    pg_app: Flask, start_scan, tmp_path: Path
) -> None:
    """A supervisor killed with SIGKILL leaves its agents running; the next one on the same
    state dir stops them before starting its own, so no two agents share a device."""
    add_station(pg_app, "joy-fm", dead_url())
    first = start_scan()
    orphan = first.wait_link("joy-fm", running, "the first agent")["pid"]
    first.stop(signal.SIGKILL)
    assert not process_gone(orphan), "the agent outlives a killed supervisor"
    second = start_scan(state_dir=first.state_dir)
    link = second.wait_link(
        "joy-fm", lambda link: running(link) and link["pid"] != orphan, "a fresh agent"
    )
    assert process_gone(orphan)
    assert f"stopped agent pid {orphan} left by a previous supervisor" in second.text()
    assert link["restarts"] == 0


def test_a_lost_password_file_gives_the_agent_a_new_password(pg_app: Flask, start_scan) -> None:
    """The password file deleted while running: the device gets a new password, the file is
    rewritten, the agent restarts with it, and the log says to regenerate the broker files."""
    add_station(pg_app, "joy-fm", dead_url())
    scan = start_scan()
    first = scan.wait_link("joy-fm", running, "the first agent")
    password_file = scan.state_dir / "scan-joy-fm.password"
    old_password = password_file.read_text().strip()
    password_file.unlink()
    link = scan.wait_link(
        "joy-fm", lambda link: running(link) and link["pid"] != first["pid"], "a new agent"
    )
    new_password = password_file.read_text().strip()
    assert new_password != old_password and link["restarts"] == 0
    with pg_app.app_context():
        stored = store.find_device(db.session, "scan-joy-fm").password_hash
    assert credentials.verify(new_password, stored)
    assert "has a new password" in scan.text() and "zamio device broker-files" in scan.text()
