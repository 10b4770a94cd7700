"""`zamio demo --serve`: the console really served over HTTP on the demo's data, from before the
broadcast until Ctrl-C, with logins that work and passwords shown once, nowhere else."""

from __future__ import annotations

import http.cookiejar
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.test_demo import _env

DEMO_S_MAX = 240.0
STOP_S_MAX = 20.0
HTTP_S_MAX = 10.0
CONSOLE = re.compile(r"^The web console: (http://127\.0\.0\.1:\d+/) \(serving now")
LOGIN = re.compile(r"^  (\w+) +(\S+@\S+)(?: +password (\S+))?$")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Demo:
    """A running `zamio demo --serve`, its output read line by line as it comes."""

    process: subprocess.Popen
    folder: Path
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

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


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """`zamio demo --serve --port 0` started (any free port); interrupted after the test."""
    folder = tmp_path / "demo"
    process = subprocess.Popen(
        [sys.executable, "-m", "central", "demo", "--serve", "--port", "0", "--dir", str(folder)],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    running = Demo(process, folder)
    yield running
    if process.poll() is None:
        process.kill()
        process.wait()


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


class Browser:
    """A cookie-keeping HTTP client, as a browser signs in: GET the form, POST it with its
    CSRF token; redirects followed."""

    def __init__(self, url: str) -> None:
        self.url = url
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(self, path: str) -> tuple[int, str, str]:
        """(status, final URL, body) of a GET."""
        return self._open(urllib.request.Request(self.url + path.lstrip("/")))

    def sign_in(self, email: str, password: str) -> tuple[int, str, str]:
        """POST the login form, as filled in by a person; (status, final URL, body)."""
        status, _, form = self.get("/login")
        assert status == 200 and 'name="email"' in form and 'name="password"' in form, form
        data = {"email": email, "password": password, "csrf_token": CSRF.search(form).group(1)}
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.url + "login", data=body))

    def _open(self, request: urllib.request.Request) -> tuple[int, str, str]:
        try:
            with self.opener.open(request, timeout=HTTP_S_MAX) as response:
                return response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.url, error.read().decode()


def test_the_console_is_served_from_before_the_broadcast_until_ctrl_c(demo: Demo) -> None:
    """The console's URL and three logins come before the broadcast; /login is served over
    HTTP then, each printed login signs in and lands on its dashboard; the demo ends with the
    URL and the logins again (their passwords not repeated), serves until SIGINT, then exits
    0. No password is in any file the demo left."""
    early = demo.until(r"^broadcast ")
    url, logins = console_of(early)
    assert set(logins) == {"admin", "station", "artist"}
    assert all(password for _, password in logins.values()), logins
    status, _, page = Browser(url).get("/login")
    assert status == 200 and "Sign in" in page

    lines = demo.until(r"^Serving until Ctrl-C\.$")
    assert "ledger verify: ok" in "\n".join(lines)
    final_url, final_logins = console_of(lines[len(early) :])
    assert final_url == url
    assert {role: email for role, (email, _) in final_logins.items()} == {
        role: email for role, (email, _) in logins.items()
    }
    assert all(password is None for _, password in final_logins.values()), "shown only once"
    for role, (email, password) in logins.items():
        browser = Browser(url)
        status, landed, page = browser.sign_in(email, password)
        assert (status, landed) == (200, url), (role, status, landed, page[:500])
        assert email in page, f"the {role}'s dashboard names who is signed in"
        assert Browser(url).sign_in(email, password + "x")[0] == 401

    demo.process.send_signal(signal.SIGINT)
    demo.until(r"^zamio demo: stopped serving$", STOP_S_MAX)
    assert demo.process.wait(STOP_S_MAX) == 0, demo.text()
    passwords = [password.encode() for _, password in logins.values()]
    for path in (p for p in demo.folder.rglob("*") if p.is_file()):
        content = path.read_bytes()
        assert not any(secret in content for secret in passwords), f"a password in {path}"
