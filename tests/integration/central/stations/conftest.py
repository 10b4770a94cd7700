"""A Mosquitto started with the shipped deploy/mosquitto.conf (only its port and paths changed)
and MQTT peers that log in to it as devices or service accounts."""

from __future__ import annotations

import grp
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from flask.testing import FlaskCliRunner
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from central.cli import cli
from tests.conftest import unavailable
from tests.integration.edge_agent.conftest import (
    HOST,
    free_port,
    require_tool,
    stop_process,
    wait_for_port,
)

SHIPPED_CONF = Path(__file__).parents[4] / "deploy" / "mosquitto.conf"
DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
WAIT_S = 5.0


class ShippedBroker:
    """Mosquitto on deploy/mosquitto.conf, in a directory its `mosquitto` user may read."""

    def __init__(self) -> None:
        self.binary = require_tool("mosquitto")
        self.port = free_port()
        # pytest's tmp_path is root-only; the broker drops to `mosquitto` and must read its files.
        self.root = Path(tempfile.mkdtemp(prefix="zamio-mosquitto-"))
        self.group = _broker_group()
        _share(self.root, self.group, owner_writes=False)
        for sub in ("data", "log", "run"):  # like /var/lib, /var/log and /run/mosquitto
            (self.root / sub).mkdir()
            _share(self.root / sub, self.group, owner_writes=True)
        self.users = self.root / "zamio-dynsec.json"
        self.pid_file = self.root / "run" / "mosquitto.pid"
        self.log = self.root / "log" / "mosquitto.log"
        self.config = self.root / "mosquitto.conf"
        self.config.write_text(self._templated())
        self.process: subprocess.Popen | None = None

    def _templated(self) -> str:
        text = SHIPPED_CONF.read_text()
        for key, old, new in (
            ("listener", "1883", f"{self.port} {HOST}"),
            ("plugin", DYNSEC_PLUGIN, _plugin_path()),
            ("plugin_opt_config_file", "/etc/mosquitto/zamio-dynsec.json", self.users),
            ("persistence_location", "/var/lib/mosquitto/", f"{self.root}/data/"),
            ("log_dest", "file /var/log/mosquitto/mosquitto.log", f"file {self.log}"),
            ("pid_file", "/run/mosquitto/mosquitto.pid", self.pid_file),
        ):
            line = f"\n{key} {old}\n"
            assert line in text, f"{line.strip()!r} is gone from {SHIPPED_CONF}"
            text = text.replace(line, f"\n{key} {new}\n")
        return text

    def write_files(self, runner: FlaskCliRunner, *extra: str) -> str:
        """`zamio device broker-files` into this broker's paths; its output."""
        args = ["device", "broker-files", "--dynsec", str(self.users)]
        if self.group is not None:
            args += ["--group", self.group]
        result = runner.invoke(cli, args + list(extra))
        assert result.exit_code == 0, result.output
        return result.output

    def restart(self) -> None:
        self.stop()
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_for_port(self.port)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def _plugin_path() -> str:
    """The dynamic-security plugin on this machine (the conf names Debian's amd64 path)."""
    found = sorted(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so"))
    found += sorted(Path("/usr/lib").glob("mosquitto_dynamic_security.so"))
    if not found:
        unavailable("mosquitto's dynamic-security plugin is not installed")
    return str(found[0])


def _broker_group() -> str | None:
    """The group the broker reads its files as: `mosquitto` when we are root (it drops to that
    user), else ours (it runs as us)."""
    if os.geteuid() != 0:
        return None
    try:
        grp.getgrnam("mosquitto")
    except KeyError:
        unavailable("running as root, but there is no mosquitto group for the broker to drop to")
    return "mosquitto"


def _share(path: Path, group: str | None, owner_writes: bool) -> None:
    """Let the broker's user reach `path` (and write in it, for its data and log)."""
    if group is None:
        return
    shutil.chown(path, user="mosquitto" if owner_writes else None, group=group)
    os.chmod(path, 0o750)


@pytest.fixture
def shipped_broker() -> Iterator[ShippedBroker]:
    """Mosquitto on the shipped conf (not started: the test writes its files first)."""
    broker = ShippedBroker()
    yield broker
    broker.stop()
    shutil.rmtree(broker.root, ignore_errors=True)


class Peer:
    """One MQTT 5 client: what it received, the SUBACK and PUBACK reason codes it got."""

    def __init__(self, port: int, user: str, password: str, client_id: str | None = None) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or user, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(user, password)
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack = ""
        self.subacks: dict[int, list[str]] = {}
        self.pubacks: dict[int, str] = {}
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.disconnected.set()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subacks.__setitem__(
            mid, [str(code) for code in codes]
        )
        self.client.on_publish = lambda c, u, mid, code, p: self.pubacks.__setitem__(mid, str(code))
        self.port = port

    def connect(self, session_expiry_s: int = 0) -> str:
        """Connect (clean_start False, keeping the session that long); CONNACK's reason."""
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = session_expiry_s
        self.client.connect(HOST, self.port, 30, clean_start=False, properties=properties)
        self.client.loop_start()
        assert self.connected.wait(WAIT_S), "no CONNACK"
        return self.connack

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connack = str(reason_code)
        self.connected.set()

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload))

    def subscribe(self, topic: str) -> list[str]:
        """Subscribe at QoS 1; SUBACK's reason codes."""
        _, mid = self.client.subscribe(topic, qos=1)
        _wait(lambda: mid in self.subacks, "a SUBACK")
        return self.subacks[mid]

    def publish(self, topic: str, payload: bytes = b"x") -> str:
        """Publish at QoS 1; PUBACK's reason."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(WAIT_S)
        _wait(lambda: info.mid in self.pubacks, "a PUBACK")
        return self.pubacks[info.mid]

    def topics(self) -> list[str]:
        with self.lock:
            return [topic for topic, _ in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait(predicate, what: str) -> None:
    done = threading.Event()
    for _ in range(int(WAIT_S / 0.02)):
        if predicate():
            return
        done.wait(0.02)
    pytest.fail(f"no {what} within {WAIT_S} s")
