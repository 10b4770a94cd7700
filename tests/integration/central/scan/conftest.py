"""`zamio scan` as a real process on the test database, with real agents that publish to a
private Mosquitto; Icecast and the broker come from the agent's integration fixtures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from flask import Flask

from central.extensions import db
from central.scan import agents, status
from central.stations import store
from tests.integration.edge_agent import conftest as agent_fixtures
from tests.integration.edge_agent.conftest import HOST, Broker, stop_process, wait_until

# The agent's fixtures, for the tests here: a private Mosquitto and a private Icecast.
broker = agent_fixtures.broker
icecast = agent_fixtures.icecast

STATUS_TIMEOUT_S = 30.0


@dataclass
class ScanProcess:
    """A `zamio scan` process, its state dir and its log."""

    state_dir: Path
    log: Path
    process: subprocess.Popen

    def status(self) -> dict[str, Any] | None:
        """The status file as last written, or None before the first."""
        return status.read_status(status.status_path(self.state_dir))

    def link(self, code: str) -> dict[str, Any] | None:
        """The status of station `code`'s link, or None."""
        document = self.status() or {"links": []}
        return next((link for link in document["links"] if link["station"] == code), None)

    def wait_link(
        self, code: str, check: Callable[[dict[str, Any]], bool], what: str, timeout_s: float = 30
    ) -> dict[str, Any]:
        """Poll the status file until station `code`'s link passes `check`; return it."""
        found: dict[str, Any] = {}

        def passes() -> bool:
            link = self.link(code)
            found["link"] = link
            return link is not None and check(link)

        self.assert_alive()
        wait_until(
            passes, timeout_s, f"{what} (last seen: {found.get('link')}; log: {self.text()})"
        )
        return found["link"]

    def assert_alive(self) -> None:
        """Fail with the log when the supervisor has exited."""
        assert self.process.poll() is None, f"zamio scan exited:\n{self.text()}"

    def text(self) -> str:
        """The supervisor's log so far."""
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal the supervisor and reap it."""
        stop_process(self.process, sig)


@pytest.fixture
def start_scan(
    pg_app: Flask, pg_database_url: str, broker: Broker, tmp_path: Path
) -> Iterator[Callable[..., ScanProcess]]:
    """start(*args, state_dir=None) -> `zamio scan --refresh-s 1` on the test database and the
    private broker; stopped after the test, and any agent it left behind with it."""
    started: list[ScanProcess] = []

    def start(*args: str, state_dir: Path | None = None) -> ScanProcess:
        state_dir = state_dir or tmp_path / "scan"
        log = tmp_path / f"scan-{len(started)}.log"
        env = {
            **os.environ,
            "ZAMIO_DATABASE_URL": pg_database_url,
            "ZAMIO_MQTT_URL": f"mqtt://{HOST}:{broker.port}",
        }
        command = [sys.executable, "-m", "central", "scan", "--state-dir", str(state_dir)]
        with log.open("ab") as stream:
            process = subprocess.Popen(
                [*command, "--refresh-s", "1", *args],
                stdout=stream,
                stderr=subprocess.STDOUT,
                env=env,
            )
        started.append(ScanProcess(state_dir, log, process))
        return started[-1]

    yield start
    for scan in reversed(started):
        scan.stop()
    # Whatever a failed test left behind: every agent process with a config under tmp_path.
    pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    agents.reap_orphans(pids, tmp_path, 5.0)


def add_station(app: Flask, code: str, stream_url: str | None, box: str | None = None) -> None:
    """A station (with an active box device, if named), committed."""
    with app.app_context():
        store.add_station(db.session, code, code.title(), stream_url)
        if box:
            store.add_device(db.session, box, code)
        db.session.commit()


def set_stream_url(app: Flask, code: str, stream_url: str | None) -> None:
    """Change a station's stream URL, committed."""
    with app.app_context():
        station = store.find_station(db.session, code)
        assert station is not None
        station.stream_url = stream_url
        db.session.commit()


def process_gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


@dataclass
class TopicRecorder:
    """Every message published under `stations/#` on a broker, with its topic."""

    port: int
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"scan-recorder-{self.port}"
        )
        self.client.on_connect = lambda c, *_: c.subscribe("stations/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect(HOST, self.port, 30)
        self.client.loop_start()
        wait_until(self.client.is_connected, 5.0, "the recorder to connect")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload))

    def topics(self, kind: str) -> list[str]:
        """The topics of the messages ending in /`kind` (batches, status, events)."""
        with self.lock:
            return [topic for topic, _ in self.messages if topic.endswith(f"/{kind}")]

    def payloads(self, topic: str) -> list[bytes]:
        with self.lock:
            return [payload for got, payload in self.messages if got == topic]


@pytest.fixture
def recorder(broker: Broker) -> Iterator[TopicRecorder]:
    """A subscriber to everything the agents publish on the private broker."""
    subscriber = TopicRecorder(broker.port)
    subscriber.start()
    yield subscriber
    subscriber.stop()
