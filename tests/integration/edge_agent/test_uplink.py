"""The uplink against brokers that say no: passwords over TLS, client certificates, a broker
that is not there, and a disk that fills up. Clear messages, bounded retries, nothing lost."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from edge_agent.spool import Spool
from tests.conftest import unavailable
from tests.integration.edge_agent.conftest import (
    HOST,
    Broker,
    Collector,
    agent_toml,
    free_port,
    wait_until,
)
from tests.synth import chords, write_wav

pytestmark = pytest.mark.integration

RATE = 8000


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(directory: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate for pi-test."""
    directory.mkdir()
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=directory,
    )
    for name, extra in (("server", ["-addext", "subjectAltName=IP:127.0.0.1"]), ("client", [])):
        cn = "127.0.0.1" if name == "server" else "pi-test"
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={cn}",
            *extra,
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=directory,
        )
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-copy_extensions",
            "copy",
            "-out",
            f"{name}.crt",
            cwd=directory,
        )
    return directory


def tls_listener(port: int, pki: Path, client_certs: bool) -> str:
    lines = [
        f"listener {port} {HOST}",
        f"cafile {pki}/ca.crt",
        f"certfile {pki}/server.crt",
        f"keyfile {pki}/server.key",
    ]
    if client_certs:
        lines += ["require_certificate true", "use_identity_as_username true"]
    return "\n".join(lines) + "\n"


def file_source(path: Path, readrate: float = 10, loop: bool = False) -> str:
    looping = "loop = true\n" if loop else ""
    return (
        f'[[source]]\nid = "rec"\nkind = "file"\npath = "{path}"\nreadrate = {readrate}\n{looping}'
    )


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "rec.wav", chords(41, 40.0, sample_rate_hz=RATE), RATE)


def test_password_over_tls_wrong_then_right(tmp_path: Path, recording: Path, run_agent) -> None:
    """A wrong password is refused with a clear message and retried slowly; the right one works."""
    pki = make_pki(tmp_path / "pki")
    passwords = tmp_path / "passwd"
    passwords.touch()
    for user, password in (("pi-test", "right-horse-battery"), ("collector", "c-secret")):
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
    tls_port = free_port()
    (tmp_path / "broker").mkdir()
    broker = Broker(
        tmp_path / "broker",
        f"allow_anonymous false\npassword_file {passwords}\n"
        + tls_listener(tls_port, pki, client_certs=False),
    )
    broker.start()
    collector = Collector(broker.port, "collector", "c-secret")
    collector.start()
    try:
        (tmp_path / "wrong").write_text("wrong-horse\n")
        (tmp_path / "right").write_text("right-horse-battery\n")
        uplink = (
            f'username = "pi-test"\nca_file = "{pki}/ca.crt"\npassword_file = "{tmp_path}/wrong"\n'
        )
        config = agent_toml(tls_port, tmp_path / "spool.db", file_source(recording), uplink)
        config = config.replace("mqtt://", "mqtts://")
        wrong = run_agent(config, name="wrong")
        wait_until(lambda: "refused the connection" in wrong.text(), 20, "the refusal")
        time.sleep(3)
        wrong.stop()
        log = wrong.text()
        assert "Not authorized" in log or "Bad user name or password" in log
        assert log.count("refused the connection") == 1  # said once, not once per attempt
        assert "wrong-horse" not in log
        right = run_agent(config.replace("/wrong", "/right"), "--exit-when-done", name="right")
        assert right.wait(60) == 0, right.text()
        wait_until(lambda: len(collector.seqs()) >= 4, 10, "the batches")
        assert collector.seqs() == list(range(len(collector.seqs())))
    finally:
        collector.stop()
        broker.stop()


def test_client_certificate(tmp_path: Path, recording: Path, run_agent) -> None:
    """With a client certificate the agent is let in; without one, the handshake fails clearly."""
    pki = make_pki(tmp_path / "pki")
    tls_port = free_port()
    (tmp_path / "broker").mkdir()
    broker = Broker(
        tmp_path / "broker",
        "allow_anonymous true\n" + tls_listener(tls_port, pki, client_certs=True),
    )
    broker.start()
    collector = Collector(broker.port)
    collector.start()
    try:
        base = agent_toml(
            tls_port, tmp_path / "spool.db", file_source(recording), f'ca_file = "{pki}/ca.crt"\n'
        ).replace("mqtt://", "mqtts://")
        anonymous = run_agent(base, name="anonymous")
        wait_until(lambda: "uplink:" in anonymous.text(), 20, "the failure")
        anonymous.stop()
        assert "closed the connection before accepting it" in anonymous.text()
        assert "client certificate" in anonymous.text()
        with_cert = base.replace(
            "[spool]", f'cert_file = "{pki}/client.crt"\nkey_file = "{pki}/client.key"\n[spool]'
        )
        agent = run_agent(with_cert, "--exit-when-done", name="cert")
        assert agent.wait(60) == 0, agent.text()
        wait_until(lambda: len(collector.seqs()) >= 4, 10, "the batches")
    finally:
        collector.stop()
        broker.stop()


class SlamServer:
    """Accepts TCP connections and closes them at once, counting them: a broker that isn't."""

    def __init__(self) -> None:
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


def test_unreachable_broker_backs_off_and_keeps_capturing(
    tmp_path: Path, recording: Path, run_agent
) -> None:
    """A dead broker is retried with backoff (not in a tight loop) while batches pile up."""
    server = SlamServer()
    spool = tmp_path / "spool.db"
    agent = run_agent(agent_toml(server.port, spool, file_source(recording, readrate=5)))
    time.sleep(6.0)
    assert agent.process is not None and agent.process.poll() is None
    attempts = server.accepted
    agent.stop()
    server.sock.close()
    # backoff_s_min 0.2, max 1.0: at most one attempt per 0.2 s, and it keeps trying
    assert 3 <= attempts <= 6.0 / 0.2 + 1
    assert agent.text().count("uplink:") <= 3
    with Spool(spool, bytes_max=10**9, age_ms_max=10**12) as opened:
        assert opened.next_seq("rec") >= 2


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """An 8 MiB tmpfs: the disk that fills up."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        message = f"cannot mount a tmpfs (needs root): {result.stderr.strip()}"
        unavailable(message)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_is_reported_and_survived(
    tmp_path: Path, recording: Path, tiny_disk: Path, run_agent
) -> None:
    """When the spool's disk fills, the oldest batches make room, counted; the agent runs on."""
    spool = tiny_disk / "spool.db"
    toml = agent_toml(free_port(), spool, file_source(recording, readrate=0, loop=True))
    toml = toml.replace("[health]", "disk_free_bytes_min = 4194304\n[health]")
    agent = run_agent(toml)
    wait_until(lambda: "bytes free on its disk" in agent.text(), 60, "the disk to fill")
    time.sleep(1.0)
    assert agent.process is not None and agent.process.poll() is None, agent.text()
    agent.stop()
    assert "Traceback" not in agent.text()
    with Spool(spool, bytes_max=10**9, age_ms_max=10**12) as opened:
        stats = opened.stats()
        assert stats.depth > 100
        assert stats.dropped_for_disk_full > 0
