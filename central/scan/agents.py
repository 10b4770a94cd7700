"""One edge agent as a child process: started, its output kept in a bounded tail, stopped.

Like Frigate with ffmpeg, the agent's output (its log, on stderr) is kept in a bounded buffer
and logged whole only when the agent dies; its warnings and errors are logged as they come and
the newest one is the link's last error. The agent retries a dead stream itself (with its own
backoff), so a stream that is down shows as `stream: down` with the agent's error, not as a
process restart.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from central.scan.supervisor import ERROR_CHARS_MAX, describe_exit

logger = logging.getLogger(__name__)

TAIL_LINES_MAX = 50
LINE_CHARS_MAX = 500
READER_JOIN_S = 1.0
# The agent's log format: "2026-11-24 06:31:27,444 WARNING edge_agent.worker: source stream: ..."
_LOG_LINE = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+) (?P<name>\S+): (?P<message>.*)$")
_STREAM_EVENT = re.compile(r"^source \S+: stream_(?P<state>up|down)\b")
_ERROR_LEVELS = ("WARNING", "ERROR", "CRITICAL")
_CONFIG_PREFIX = "zamio-agent:"  # how the agent prints a bad config (exit 2), one line each
# The supervisor's own systemd hand-over: an agent that inherited these would notify, log to or
# take sockets of the supervisor's unit.
_SUPERVISOR_ONLY_ENV = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "JOURNAL_STREAM",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
)


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The agent's environment: the supervisor's without ZAMIO_* (central's secrets; agent
    overrides would apply to every link) and without systemd's hand-over variables."""
    return {
        key: value
        for key, value in environ.items()
        if not key.startswith("ZAMIO_") and key not in _SUPERVISOR_ONLY_ENV
    }


def agent_command(config_path: Path) -> list[str]:
    """`python -m edge_agent run --config PATH` with this interpreter."""
    return [sys.executable, "-m", "edge_agent", "run", "--config", str(config_path)]


class AgentProcess:
    """A running `zamio-agent run` child of one station's scan."""

    def __init__(
        self, station_code: str, config_path: Path, command: list[str] | None = None
    ) -> None:
        self.station_code = station_code
        self.config_path = config_path
        self.command = command or agent_command(config_path)
        self.stream: str | None = None  # "up" or "down", from the agent's stream events
        self.kill_at_s: float | None = None  # SIGKILL then, once asked to stop
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES_MAX)
        self._error: tuple[str, float] | None = None  # newest, not yet taken
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The agent's process id."""
        assert self._process is not None, "not started"
        return self._process.pid

    def start(self) -> int:
        """Start the agent in a session of its own (its ffmpeg too); return its pid."""
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_environment(os.environ),
            start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
        )
        self._reader = threading.Thread(
            target=self._read, daemon=True, name=f"scan-{self.station_code}-output"
        )
        self._reader.start()
        return self._process.pid

    def poll(self) -> int | None:
        """The exit code once the agent has exited (its output read to the end), else None."""
        assert self._process is not None, "not started"
        code = self._process.poll()
        if code is not None and self._reader is not None:
            self._reader.join(READER_JOIN_S)
            if self._process.stdout is not None:
                self._process.stdout.close()
        return code

    def terminate(self, grace_s: float, now_s: float) -> None:
        """SIGTERM: the agent spools its last window and says goodbye; SIGKILL at `kill_at_s`."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
        self.kill_at_s = now_s + grace_s

    def kill(self) -> None:
        """SIGKILL the agent and whatever it started (its process group)."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)

    def take_error(self) -> tuple[str, float] | None:
        """The newest warning or error line (monotonic time) since the last call, or None."""
        with self._lock:
            error, self._error = self._error, None
        return error

    def tail(self) -> list[str]:
        """The agent's last lines of output."""
        with self._lock:
            return list(self._tail)

    def exit_error(self, exit_code: int | None) -> str:
        """What to show for an exit: the config problems, the signal, or the last words."""
        lines = self.tail()
        problems = [line for line in lines if line.startswith(_CONFIG_PREFIX)]
        if problems:
            return "; ".join(problems)[:ERROR_CHARS_MAX]
        if (exit_code is not None and exit_code < 0) or not lines:
            return describe_exit(exit_code)
        return f"{describe_exit(exit_code)}: {message_of(lines[-1])}"[:ERROR_CHARS_MAX]

    def _read(self) -> None:
        """Read the agent's output to the end, line by line."""
        assert self._process is not None and self._process.stdout is not None
        for raw in iter(self._process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()[:LINE_CHARS_MAX]
            if line:
                self.take_line(line)

    def take_line(self, line: str) -> None:
        """Keep a line in the tail; note errors and stream events."""
        match = _LOG_LINE.match(line)
        level = match.group("level") if match else ""
        message = match.group("message") if match else line
        event = _STREAM_EVENT.match(message)
        with self._lock:
            self._tail.append(line)
            if event:
                self.stream = event.group("state")
            if level in _ERROR_LEVELS or line.startswith(_CONFIG_PREFIX):
                self._error = (message, time.monotonic())
        if level in _ERROR_LEVELS or line.startswith(_CONFIG_PREFIX):
            logger.warning("station %s: agent: %s", self.station_code, message)
        else:
            logger.debug("station %s: agent: %s", self.station_code, message)


def message_of(line: str) -> str:
    """A log line's message (without time, level and logger), or the line."""
    match = _LOG_LINE.match(line)
    return match.group("message") if match else line


def reap_orphans(pids: list[int], state_dir: Path, grace_s: float) -> list[int]:
    """Stop agents a crashed supervisor left running: those of `pids` whose command line names
    a config under `state_dir` (Linux /proc). Returns the pids stopped."""
    orphans = [pid for pid in pids if _runs_config_under(pid, state_dir)]
    for pid in orphans:
        _signal(pid, signal.SIGTERM)
    deadline_s = time.monotonic() + grace_s
    while any(_alive(pid) for pid in orphans) and time.monotonic() < deadline_s:
        time.sleep(0.1)
    for pid in orphans:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    return orphans


def _runs_config_under(pid: int, state_dir: Path) -> bool:
    """Whether process `pid` is an edge agent with a config under `state_dir`."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    prefix = str(state_dir.resolve()) + os.sep
    words = [word.decode("utf-8", "replace") for word in argv]
    return "edge_agent" in words and any(word.startswith(prefix) for word in words)


def _alive(pid: int) -> bool:
    """Whether `pid` exists (and is no zombie we could see)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _signal(pid: int, number: int) -> None:
    """Send a signal, ignoring a process that is already gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)
