"""The console in a real browser: the real app served over HTTP by werkzeug on a free port (on
the integration tests' PostgreSQL), users of each role made with the domain functions, headless
Debian Chromium driven by playwright, and helpers to log in, run axe-core and take screenshots.
No Chromium (or no playwright): skip, or fail when CI=true."""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from central.auth import users
from central.extensions import db
from central.stations import store as stations
from tests.conftest import unavailable
from tests.integration import conftest as integration

# The integration tests' real services, for the browser tests too.
pg_database_url = integration.pg_database_url
pg_app = integration.pg_app
redis_test_db = integration.redis_test_db
redis_url = integration.redis_url
redis_connection = integration.redis_connection
central_processes = integration.central_processes

HOST = "127.0.0.1"
CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
DOCS = Path(__file__).resolve().parents[2] / "docs"
SCREENSHOTS_ENV = "SCREENSHOTS_DIR"  # not ZAMIO_*: the tests' environment drops those
AXE_BLOCKING = ("serious", "critical")
VIEWPORT = {"width": 1100, "height": 800}  # a laptop's; the screenshots stay small
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PASSWORD = "browser-test-password-1"
STATION = "joy-fm"
OTHER_STATION = "peace-fm"
ARTIST_PARTY = "artist:ama-serwaa:earnings"
TIMEOUT_MS = 15_000  # any one page action or wait


@dataclass(frozen=True)
class Person:
    """A console user the tests log in as."""

    role: str
    email: str
    password: str = PASSWORD


@pytest.fixture
def live_server(pg_app: Flask) -> Iterator[str]:
    """The real app served over HTTP in a thread on a free port; yields its base URL."""
    server = make_server(HOST, 0, pg_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_port}"
    server.shutdown()
    thread.join(10)
    server.server_close()


@pytest.fixture
def people(pg_app: Flask) -> dict[str, Person]:
    """Two stations (joy-fm with device pi-01, peace-fm with pi-02) and one user per role: an
    admin, joy-fm's staff and the artist of ARTIST_PARTY, each with PASSWORD."""
    wanted = {
        "admin": Person("admin", "admin@browser.test"),
        "station": Person("station", "staff@joy-fm.test"),
        "artist": Person("artist", "ama@artists.test"),
    }
    with pg_app.app_context():
        for code, name, device in (
            (STATION, "Joy FM", "pi-01"),
            (OTHER_STATION, "Peace FM", "pi-02"),
        ):  # noqa: E501
            stations.add_station(db.session, code, name)
            stations.add_device(db.session, device, code)
        for person in wanted.values():
            user = users.add_user(
                db.session, person.email, person.role, None,
                (STATION,) if person.role == "station" else (),
                (ARTIST_PARTY,) if person.role == "artist" else (),
            )  # fmt: skip
            users.set_password(user, person.password)
        db.session.commit()
    return wanted


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Headless Debian Chromium under playwright (never a browser of playwright's own)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed; run `bash scripts/test`")
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed; run `bash scripts/test`")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root: Chromium's sandbox refuses
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=args, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium) -> Iterator[Callable[..., object]]:
    """new_page(**context options) -> a page in a fresh context (own cookies), under the
    console's real CSP (axe-core goes in through the DevTools protocol, which CSP does not
    govern), its script errors and CSP refusals recorded for `axe`; all closed after the test."""
    contexts = []

    def new_page(**options: object):
        defaults = {"viewport": VIEWPORT, "accept_downloads": True}
        context = chromium.new_context(**(defaults | options))
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        errors = PAGE_ERRORS.setdefault(id(page), [])
        page.on("pageerror", lambda error: errors.append(f"script error: {error}"))
        page.on("console", lambda m: errors.append(m.text) if _refused(m) else None)
        return page

    yield new_page
    for context in contexts:
        for page in context.pages:
            PAGE_ERRORS.pop(id(page), None)
        context.close()


PAGE_ERRORS: dict[int, list[str]] = {}  # by id(page): what the page's scripts could not do


def _refused(message) -> bool:
    """A console message saying the CSP blocked something (an inline script or style)."""
    return message.type == "error" and "Content Security Policy" in message.text


def login(page, base_url: str, email: str, password: str) -> None:
    """Log in through the /login form (its hidden csrf_token included) and land on /."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation() as landed:
        page.locator("form:has(input[name=password]) [type=submit]").click()
    assert page.url.rstrip("/") == base_url.rstrip("/"), f"login of {email} landed on {page.url}"
    assert landed.value.status == 200, f"{email}'s dashboard: {landed.value.status}"


def axe(page) -> None:
    """Run axe-core on the page as it is; fail on any serious or critical violation, and on
    any script error or CSP refusal seen on the page so far."""
    errors = PAGE_ERRORS.get(id(page), [])
    assert not errors, f"on {page.url}:\n" + "\n".join(errors)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    blocking = [v for v in results["violations"] if v["impact"] in AXE_BLOCKING]
    assert not blocking, f"axe on {page.url}:\n" + "\n".join(map(_violation, blocking))


@functools.cache
def _axe_source() -> str:
    return AXE.read_text()


def _violation(violation: dict) -> str:
    """A violation as text: rule, impact, what it means, and where (first five elements)."""
    nodes = violation["nodes"]
    where = "\n".join(
        f"      {', '.join(map(str, n['target']))}: {n.get('failureSummary', '').splitlines()[-1:]}"
        for n in nodes[:5]
    )
    more = f"\n      ... and {len(nodes) - 5} more" if len(nodes) > 5 else ""
    return (
        f"  {violation['id']} ({violation['impact']}): {violation['help']}"
        f" <{violation['helpUrl']}>\n{where}{more}"
    )


def screenshot(page, role: str) -> Path:
    """The whole page as console-<role>.png: in docs/ (the README's pictures) when
    SCREENSHOTS_DIR=docs, else in a temporary folder, so a test run changes no tracked file."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or Path(tempfile.gettempdir()) / "zamio-shots")
    folder = folder if folder.is_absolute() else DOCS.parent / folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"console-{role}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path
