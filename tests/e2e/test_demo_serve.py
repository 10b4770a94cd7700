"""`zamio demo --serve`: the console really served over HTTP on the demo's data, from before the
broadcast until Ctrl-C, with logins that work and passwords shown once, nowhere else."""

from __future__ import annotations

import http.cookiejar
import re
import signal
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.demo_process import STOP_S_MAX, Demo, console_of, demo_serving

HTTP_S_MAX = 10.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """`zamio demo --serve --port 0` started; killed after the test if still running."""
    with demo_serving(tmp_path) as running:
        yield running


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
