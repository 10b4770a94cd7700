"""Real servers for the agent's tests, each private to one test: a Mosquitto broker (own port,
own config: passwords, TLS, persistence), an Icecast2 server fed by ffmpeg, and the agent itself
as a `zamio-agent run` process. Only the sound card is ever faked, and not here."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.batch import HashBatch, decode_batch
from tests.conftest import unavailable

HOST = "127.0.0.1"
START_S_MAX = 10.0


def require_tool(name: str) -> str:
    """The path of a server binary; skip without it, or fail when CI=true."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )
    if path is None:
        message = f"{name} is not installed; run `bash scripts/test`"
        unavailable(message)
    return path


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = START_S_MAX) -> None:
    """Block until something accepts connections on `port`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wait_until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll `predicate` until true; fail the test saying `what` did not happen."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.05)


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal a process and reap it (SIGKILL after 10 s)."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


class Broker:
    """A mosquitto of the test's own, restartable on the same port with the same config."""

    def __init__(self, workdir: Path, extra_config: str = "") -> None:
        self.binary = require_tool("mosquitto")
        self.port = free_port()
        self.workdir = workdir
        self.config = workdir / "mosquitto.conf"
        # As root, mosquitto drops to the mosquitto user, who cannot read pytest's private dirs.
        user = "user root\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            f"{user}listener {self.port} {HOST}\n"
            f"persistence true\npersistence_location {workdir}/\n"
            f"log_dest file {workdir}/mosquitto.log\n" + (extra_config or "allow_anonymous true\n")
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A private anonymous Mosquitto with persistence, started."""
    (tmp_path / "broker").mkdir()
    server = Broker(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


@dataclass
class Collector:
    """A subscriber with a persistent session: everything the agent published, by topic kind."""

    port: int
    username: str | None = None
    password: str | None = None
    client_id: str | None = None  # default: collector-{port}
    topic: str = "stations/#"
    batches: list[HashBatch] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)  # the batches as they came, in order
    events: list[dict] = field(default_factory=list)
    statuses: list[dict] = field(default_factory=list)
    batch_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id or f"collector-{self.port}",
            protocol=mqtt.MQTTv5,
        )
        if self.username:
            self.client.username_pw_set(self.username, self.password)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=1)
        self.client.on_message = self._on_message
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        self.client.connect(HOST, self.port, 30, clean_start=False, properties=properties)
        self.client.loop_start()
        wait_until(self.client.is_connected, 5.0, "the collector to connect")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client, userdata, message) -> None:
        kind = message.topic.rsplit("/", 1)[-1]
        with self.lock:
            if kind == "batches":
                self.batches.append(decode_batch(message.payload))
                self.payloads.append(message.payload)
                self.batch_bytes += len(message.payload)
            elif kind == "events":
                self.events.append(json.loads(message.payload))
            elif kind == "status":
                self.statuses.append(json.loads(message.payload))

    def seqs(self, source_id: str | None = None) -> list[int]:
        with self.lock:
            return sorted(b.seq for b in self.batches if source_id in (None, b.source_id))

    def event_kinds(self) -> list[str]:
        with self.lock:
            return [e["kind"] for e in self.events]

    def unique_batches(self) -> list[HashBatch]:
        """One batch per seq (duplicates from at-least-once delivery removed), by seq."""
        with self.lock:
            return sorted({b.seq: b for b in self.batches}.values(), key=lambda b: b.seq)


@pytest.fixture
def collector(broker: Broker) -> Iterator[Collector]:
    sub = Collector(broker.port)
    sub.start()
    yield sub
    sub.stop()


@dataclass
class AgentProcess:
    """`zamio-agent run` as a child process, with its config file and its log."""

    config: Path
    log: Path
    process: subprocess.Popen | None = None

    def start(self, *args: str) -> AgentProcess:
        self._log_stream = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(self.config), *args],
            stdout=self._log_stream,
            stderr=subprocess.STDOUT,
        )
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_process(self.process, sig)
            self.process = None
            self._log_stream.close()

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        code = self.process.wait(timeout_s)
        self.process = None
        self._log_stream.close()
        return code

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def run_agent(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """Start agents from TOML text; every one still running is stopped after the test."""
    started: list[AgentProcess] = []

    def start(toml: str, *args: str, name: str = "agent") -> AgentProcess:
        config = tmp_path / f"{name}.toml"
        config.write_text(toml)
        agent = AgentProcess(config, tmp_path / f"{name}.log").start(*args)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


def agent_toml(
    broker_port: int,
    spool: Path,
    sources: str,
    uplink: str = "",
    health: str = "",
    spool_keys: str = "",
) -> str:
    """An agent config for the tests: fast heartbeats and backoffs, private spool."""
    return (
        'device_id = "pi-test"\nstation_id = "test-fm"\nlog_level = "info"\n'
        f'[uplink]\nurl = "mqtt://{HOST}:{broker_port}"\nheartbeat_s = 2\n'
        f"backoff_s_min = 0.2\nbackoff_s_max = 1.0\nbacklog_rate_max = 50\n{uplink}\n"
        f'[spool]\npath = "{spool}"\n{spool_keys}\n'
        f"[health]\nrestart_backoff_s_min = 0.2\nrestart_backoff_s_max = 1.0\n{health}\n"
        f"{sources}"
    )


class Icecast:
    """An icecast2 server on loopback; `feed` streams a file (or lavfi input) into a mount."""

    PASSWORD = "hackme-test"

    def __init__(self, workdir: Path) -> None:
        self.binary = require_tool("icecast2")
        self.ffmpeg = require_tool("ffmpeg")
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        # icecast refuses to run as root and drops to nobody, who must reach its log directory:
        # pytest's tmp_path is private to root, so the logs go to a directory of their own.
        self.logdir = Path(tempfile.mkdtemp(prefix="zamio-icecast-"))
        os.chmod(self.logdir, 0o777)
        self.config = workdir / "icecast.xml"
        self.config.write_text(self._xml())
        self.process: subprocess.Popen | None = None
        self.feeders: list[subprocess.Popen] = []

    def _xml(self) -> str:
        owner = (
            "<security><changeowner><user>nobody</user><group>nogroup</group></changeowner>"
            "</security>"
            if os.geteuid() == 0
            else ""
        )
        return f"""<icecast>
  <limits><clients>20</clients><sources>4</sources><queue-size>1048576</queue-size>
    <source-timeout>5</source-timeout><burst-on-connect>1</burst-on-connect>
    <burst-size>65535</burst-size></limits>
  <authentication><source-password>{self.PASSWORD}</source-password>
    <admin-user>admin</admin-user><admin-password>{self.PASSWORD}</admin-password></authentication>
  <hostname>{HOST}</hostname>
  <listen-socket><port>{self.port}</port><bind-address>{HOST}</bind-address></listen-socket>
  <fileserve>0</fileserve>
  <paths><logdir>{self.logdir}</logdir><webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><errorlog>error.log</errorlog><accesslog>access.log</accesslog><loglevel>2</loglevel>
  </logging>
  {owner}
</icecast>
"""

    def url(self, mount: str = "live.mp3") -> str:
        return f"http://{HOST}:{self.port}/{mount}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        time.sleep(0.2)  # it binds before dropping privileges and opening its logs
        if self.process.poll() is not None:
            log = self.logdir / "error.log"
            pytest.fail(f"icecast2 exited: {log.read_text() if log.exists() else 'no log'}")

    def stop(self) -> None:
        for feeder in self.feeders:
            stop_process(feeder)
        self.feeders = []
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def feed(self, input_args: list[str], readrate: float = 1.0, mount: str = "live.mp3"):
        """ffmpeg encodes the input to MP3 and streams it into the mount."""
        command = [
            self.ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-readrate",
            f"{readrate:g}",
            *input_args,
            "-ac",
            "1",
            "-ar",
            "22050",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            "-content_type",
            "audio/mpeg",
            "-f",
            "mp3",
            f"icecast://source:{self.PASSWORD}@{HOST}:{self.port}/{mount}",
        ]
        feeder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.feeders.append(feeder)
        wait_until(lambda: self._mounted(mount) or feeder.poll() is not None, 10.0, "the mount")
        return feeder

    def _mounted(self, mount: str) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                sock.sendall(f"GET /{mount} HTTP/1.0\r\n\r\n".encode())
                return b" 200 " in sock.recv(64)
        except OSError:
            return False


@pytest.fixture
def icecast(tmp_path: Path) -> Iterator[Icecast]:
    """A private icecast2 server, started; stopped with its feeders after the test."""
    server = Icecast(tmp_path / "icecast")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.logdir, ignore_errors=True)
