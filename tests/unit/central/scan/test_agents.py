"""An agent child process as the supervisor sees it: its output tail, errors, stream state."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from central.scan import agents
from central.scan.agents import LINE_CHARS_MAX, TAIL_LINES_MAX, AgentProcess
from central.scan.errors import ScanError
from central.scan.scanner import lock_state_dir

WARNING = (
    "2026-11-24 06:31:27,521 WARNING edge_agent.worker: source stream: ffmpeg_exit: ffmpeg "
    "exited with status 1: Connection refused"
)
DOWN = "2026-11-24 06:31:27,521 WARNING edge_agent.agent: source stream: stream_down {}"
UP = "2026-11-24 06:31:40,001 INFO edge_agent.agent: source stream: stream_up {}"
INFO = "2026-11-24 06:31:27,444 INFO edge_agent.agent: agent scan-x: starting 1 source(s)"


def agent() -> AgentProcess:
    return AgentProcess("joy", Path("/nowhere/agent.toml"))


def test_warnings_become_the_last_error_and_stream_events_the_stream_state() -> None:
    """A warning's message (no time, level, logger) is the last error, taken once; stream_down
    and stream_up set the stream state; info lines are no error."""
    process = agent()
    process.take_line(INFO)
    assert process.take_error() is None and process.stream is None
    process.take_line(WARNING)
    process.take_line(DOWN)
    error = process.take_error()
    assert error is not None and error[0] == "source stream: stream_down {}"
    assert process.take_error() is None
    assert process.stream == "down"
    process.take_line(UP)
    assert process.stream == "up"


def test_the_output_tail_is_bounded() -> None:
    """Only the last TAIL_LINES_MAX lines are kept, like Frigate keeps ffmpeg's."""
    process = agent()
    for number in range(TAIL_LINES_MAX + 25):
        process.take_line(f"line {number}")
    tail = process.tail()
    assert len(tail) == TAIL_LINES_MAX and tail[-1] == f"line {TAIL_LINES_MAX + 24}"


def test_exit_errors_name_the_config_problems_the_signal_or_the_last_words() -> None:
    """Exit 2 shows every config problem; a signal shows its name; a crash its last line."""
    process = agent()
    process.take_line(INFO)
    process.take_line("zamio-agent: config: agent.toml: source[0] url: bad port")
    process.take_line("zamio-agent: config: agent.toml: spool path: not writable")
    assert process.exit_error(2) == (
        "zamio-agent: config: agent.toml: source[0] url: bad port; "
        "zamio-agent: config: agent.toml: spool path: not writable"
    )
    crashed = agent()
    crashed.take_line(INFO)
    assert crashed.exit_error(-9) == "killed by SIGKILL"
    crashed.take_line("RuntimeError: boom")
    assert crashed.exit_error(1) == "exited 1: RuntimeError: boom"
    assert agent().exit_error(1) == "exited 1"


def test_a_real_child_is_read_to_the_end_with_long_lines_cut(tmp_path: Path) -> None:
    """A child's output is read by the reader thread to its end; lines are cut to
    LINE_CHARS_MAX; poll gives its exit code."""
    script = (
        "import sys; print('x' * 2000, flush=True); "
        f"print({WARNING!r}, file=sys.stderr); sys.exit(3)"
    )
    process = AgentProcess("joy", tmp_path / "agent.toml", [sys.executable, "-c", script])
    process.start()
    deadline = time.monotonic() + 10
    while (code := process.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert code == 3
    assert [len(line) for line in process.tail()] == [LINE_CHARS_MAX, len(WARNING)]
    assert process.exit_error(code).startswith("exited 3: source stream: ffmpeg_exit")


def test_the_agent_environment_drops_central_secrets_and_systemd_hand_over() -> None:
    """ZAMIO_* (database passwords, agent overrides) and NOTIFY_SOCKET etc. stay with the
    supervisor; the rest (PATH for ffmpeg) goes to the agent."""
    environ = {
        "PATH": "/usr/bin",
        "ZAMIO_DATABASE_URL": "postgresql://zamio:secret@db/zamio",
        "ZAMIO_AGENT_DEVICE_ID": "pi-1",
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "JOURNAL_STREAM": "8:1234",
    }
    assert agents.child_environment(environ) == {"PATH": "/usr/bin"}


def test_a_state_dir_is_used_by_one_supervisor_at_a_time(tmp_path: Path) -> None:
    """A second supervisor on the same state dir is refused while the first holds it; the
    directory is private to its owner."""
    first = lock_state_dir(tmp_path / "scan")
    try:
        with pytest.raises(ScanError, match="another `zamio scan`"):
            lock_state_dir(tmp_path / "scan")
    finally:
        first.close()
    assert (tmp_path / "scan").stat().st_mode & 0o077 == 0
    lock_state_dir(tmp_path / "scan").close()
