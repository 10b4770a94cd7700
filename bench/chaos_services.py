"""The servers bench/chaos.py breaks on purpose: its own Mosquitto (persistence on) and
redis-server (append-only file) on free ports, a TCP proxy in front of PostgreSQL that can drop
and refuse every connection for a while, and the central processes (`zamio ingest`, `zamio
worker`, `zamio scheduler`) that it kills with SIGKILL and starts again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from bench.agent import answers, free_port, wait_until
from bench.harness import HOST, Processes

START_S_MAX = 60.0
REVIVE_S = 2.0  # systemd's RestartSec for a central process that exited by itself
DEPLOY_MOSQUITTO = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto.conf"
# Lines of deploy/mosquitto.conf that name the deployment's own ports, files and accounts: the
# bench replaces them with a loopback listener, anonymous clients and its own directory, and
# keeps the rest (queue limits, autosave, session expiry) as deployed.
MOSQUITTO_OWN_KEYS = (
    "listener", "port", "bind_address", "socket_domain", "allow_anonymous", "password_file",
    "acl_file", "use_username_as_clientid", "persistence", "persistence_location",
    "persistence_file", "log_dest", "log_type", "pid_file", "user", "include_dir", "cafile",
    "capath", "certfile", "keyfile", "require_certificate", "use_identity_as_username",
    "tls_version", "ciphers", "protocol", "plugin", "auth_plugin", "plugin_opt_",
)  # fmt: skip


def mosquitto_config(deployed: str | None, port: int, directory: Path, as_root: bool) -> str:
    """The bench broker's config: the deployed one (if any) without its own listeners, files
    and accounts, then a loopback listener with persistence in `directory`."""
    kept = []
    for line in (deployed or "").splitlines():
        key = line.strip().split(" ", 1)[0]
        if key and not key.startswith("#") and not key.startswith(MOSQUITTO_OWN_KEYS):
            kept.append(line.strip())
    own = [
        *(["user root"] if as_root else []),  # as root it would drop to `mosquitto`
        f"listener {port} {HOST}",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {directory}/",
        f"log_dest file {directory}/mosquitto.log",
        "log_type error",
        "log_type warning",
        "log_type notice",
    ]
    return "\n".join(kept + own) + "\n"


class Broker:
    """A Mosquitto with persistence on a free port: stopped, killed and started on that port."""

    def __init__(self, procs: Processes, directory: Path) -> None:
        self.procs = procs
        self.directory = directory
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        deployed = DEPLOY_MOSQUITTO.read_text() if DEPLOY_MOSQUITTO.exists() else None
        self.config_origin = "deploy/mosquitto.conf" if deployed else "minimal (no deploy conf)"
        self.config = directory / "mosquitto.conf"
        self.config.write_text(mosquitto_config(deployed, self.port, directory, os.geteuid() == 0))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = self.procs.start([binary, "-c", str(self.config)])
        wait_until(lambda: answers(self.port), "mosquitto", START_S_MAX)

    def stop(self) -> None:
        """SIGTERM: mosquitto writes its persistence file and exits."""
        if self.process is not None:
            self.procs.stop([self.process])
            self.process = None

    def kill(self) -> None:
        """SIGKILL: whatever was not yet saved is gone."""
        if self.process is not None:
            kill_group(self.process)
            self.procs.started.remove(self.process)
            self.process = None


class Redis:
    """A redis-server with an append-only file on a free port; stop() and start() again keep
    the queue (as a deployed Redis with persistence would)."""

    def __init__(self, procs: Processes, directory: Path) -> None:
        self.procs = procs
        self.directory = directory
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [binary, "--port", str(self.port), "--bind", HOST, "--dir", str(self.directory),
                "--appendonly", "yes", "--save", "", "--protected-mode", "no"]  # fmt: skip
        self.process = self.procs.start(argv, self.directory / "redis.log")
        wait_until(lambda: answers(self.port, b"PING\r\n", b"+PONG"), "redis-server", START_S_MAX)

    def stop(self) -> None:
        if self.process is not None:
            self.procs.stop([self.process])
            self.process = None


class PgProxy:
    """A TCP proxy to PostgreSQL in a thread of its own: cut(s) closes every connection and
    refuses new ones (nothing listens) for s seconds, as a database host that went away."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def close(self) -> None:
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def cut(self, seconds: float) -> None:
        """Drop every connection, refuse new ones for `seconds`, then listen again."""
        self._call(self._cut())
        time.sleep(seconds)
        self._call(self._listen())

    def _call(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, HOST, self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()  # RST: the client sees the server vanish
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until either side closes, then close the other."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.transport.abort()


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a child and everything in its session (an RQ worker's work horse too)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


class Central:
    """The central processes of one run, by kind and slot; a slot is killed and started again
    (an ingest listener keeps its client id, so it takes back its session)."""

    READY = {"ingest": "subscribed to", "worker": "Listening on", "scheduler": ""}

    def __init__(self, procs: Processes, cli: list[str], env: dict, workdir: Path) -> None:
        self.procs, self.cli, self.env, self.workdir = procs, cli, env, workdir
        self.running: dict[str, list[subprocess.Popen]] = {k: [] for k in self.READY}
        self.logs: list[Path] = []

    def start(self, counts: dict[str, int]) -> None:
        """`counts[kind]` more processes of each kind, started at once, ready when this returns."""
        started = []
        for kind, count in counts.items():
            for _ in range(count):
                started.append((kind, self._launch(kind, len(self.running[kind]), wait=False)))
                self.running[kind].append(started[-1][1])
        for kind, process in started:
            self._wait_ready(kind, process)

    def kill(self, kind: str, slot: int) -> None:
        """SIGKILL the process in `slot` of a kind (its session too) and start it again."""
        slot %= len(self.running[kind])
        process = self.running[kind][slot]
        kill_group(process)
        self.procs.started.remove(process)
        self.running[kind][slot] = self._launch(kind, slot)

    def _launch(self, kind: str, slot: int, wait: bool = True) -> subprocess.Popen:
        args = [kind, "--client-id", f"zamio-ingest-chaos-{slot}"] if kind == "ingest" else [kind]
        log = self.workdir / f"{kind}-{slot}-{len(self.logs)}.log"
        self.logs.append(log)
        process = self.procs.start([*self.cli, *args], log, self.env)
        process.log = log  # type: ignore[attr-defined]
        if wait:
            self._wait_ready(kind, process)
        return process

    def _wait_ready(self, kind: str, process: subprocess.Popen) -> None:
        """Until the process's log says it is ready (or it exited)."""
        ready, log = self.READY[kind], process.log  # type: ignore[attr-defined]
        if ready:
            wait_until(lambda: ready in log.read_text(errors="replace") or process.poll() is not
                       None, log.name, START_S_MAX)  # fmt: skip

    def revive(self) -> list[str]:
        """Start again, REVIVE_S later as systemd would, every process that exited by itself
        (a crash the bench did not cause); their kinds."""
        revived = []
        for kind, processes in self.running.items():
            for slot, process in enumerate(processes):
                if process.poll() is not None:
                    time.sleep(REVIVE_S)
                    self.procs.started.remove(process)
                    processes[slot] = self._launch(kind, slot)
                    revived.append(kind)
        return revived

    def stop(self) -> None:
        self.procs.stop([p for ps in self.running.values() for p in ps])
