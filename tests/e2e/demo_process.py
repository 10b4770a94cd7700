"""`zamio demo --serve` as a child process, for the tests that use it: its output read line by
line as it comes, and the console's URL and logins parsed from it."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.test_demo import _env

DEMO_S_MAX = 240.0
STOP_S_MAX = 20.0
CONSOLE = re.compile(r"^The web console: (http://127\.0\.0\.1:\d+/) \(serving now")
LOGIN = re.compile(r"^  (\w+) +(\S+@\S+)(?: +password (\S+))?$")


@dataclass
class Demo:
    """A running `zamio demo --serve`, its output read line by line as it comes."""

    process: subprocess.Popen
    folder: Path
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, pattern: str, timeout_s: float = DEMO_S_MAX) -> list[str]:
        """Read output until a line matching `pattern` (regex); the lines read so far."""
        deadline = time.monotonic() + timeout_s
        while not self.lines or not re.search(pattern, self.lines[-1]):
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                pytest.fail(f"no line like {pattern!r} in {timeout_s:g} s:\n" + self.text())
            if line is None:
                pytest.fail(f"zamio demo ended before {pattern!r}:\n" + self.text())
            self.lines.append(line)
        return list(self.lines)

    def text(self) -> str:
        return "\n".join(self.lines[-80:])


@contextmanager
def demo_serving(tmp_path: Path) -> Iterator[Demo]:
    """`zamio demo --serve --port 0` started (any free port); killed after, if still running."""
    folder = tmp_path / "demo"
    process = subprocess.Popen(
        [sys.executable, "-m", "central", "demo", "--serve", "--port", "0", "--dir", str(folder)],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    running = Demo(process, folder)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        running._reader.join(STOP_S_MAX)  # at the end of its output
        process.stdout.close()


def console_of(lines: list[str]) -> tuple[str, dict[str, tuple[str, str | None]]]:
    """The URL and the logins (role -> (email, password or None)) of the console block."""
    start = next(i for i, line in enumerate(lines) if CONSOLE.match(line))
    url = CONSOLE.match(lines[start]).group(1)
    logins = {}
    for line in lines[start + 1 :]:
        found = LOGIN.match(line)
        if found is None:
            break
        logins[found.group(1)] = (found.group(2), found.group(3))
    return url, logins
