"""The console as people use it, in headless Chromium: an admin watches a station go offline
when its agent dies (real zamio-agent, Mosquitto, `zamio ingest`, PostgreSQL), an artist
watches a demo broadcast's plays arrive and downloads a statement (a real `zamio demo
--serve`), and station staff are kept to their own station; axe-core on every page visited."""

from __future__ import annotations

import csv
import io
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

from central.auth import policy, roles
from tests.browser.conftest import (
    OTHER_STATION,
    PHONE,
    STATION,
    Person,
    axe,
    login,
    screenshot,
)
from tests.e2e.demo_process import STOP_S_MAX, console_of, demo_serving
from tests.integration.edge_agent.conftest import HOST, AgentProcess, Broker
from tests.synth import write_wav

pytestmark = [pytest.mark.browser, pytest.mark.integration]

DEVICE = "pi-01"  # joy-fm's device (the people fixture)
HEALTH_S_MAX = 30.0  # heartbeat stored and polled onto the page, or the last will
DEMO_PLAYS_S_MAX = 120.0
NO_RELOAD = "window.zamioNoReload"  # set on the page; a reload would forget it
PALETTE_0 = (11, 92, 173)  # console.js's first colour (#0b5cad): the first dataset's
COLOUR_TOLERANCE = 40


def keep_marker(page) -> None:
    """Mark the page's window: still there later means the page was never reloaded."""
    page.evaluate(f"{NO_RELOAD} = true")


def not_reloaded(page) -> bool:
    return page.evaluate(f"{NO_RELOAD} === true")


def device_row(page, device: str):
    """The row of `device` in the station page's live health table (found again after each
    of the page's swaps)."""
    return page.locator("#station-health tr", has=page.locator("th", has_text=device))


@pytest.fixture
def broker(tmp_path: Path):
    """A private Mosquitto."""
    (tmp_path / "broker").mkdir()
    server = Broker(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


def start_agent(tmp_path: Path, broker_port: int) -> AgentProcess:
    """joy-fm's `zamio-agent` on a looping 10 s recording, heartbeat every second."""
    noise = np.random.default_rng(3).standard_normal(80_000).astype(np.float32) * 0.1
    recording = write_wav(tmp_path / "air.wav", noise, 8000)
    config = tmp_path / "agent.toml"
    config.write_text(
        f'device_id = "{DEVICE}"\nstation_id = "{STATION}"\n'
        f'[uplink]\nurl = "mqtt://{HOST}:{broker_port}"\nheartbeat_s = 1\n'
        f"backoff_s_min = 0.2\nbackoff_s_max = 1.0\n"
        f'[spool]\npath = "{tmp_path / "spool.db"}"\n'
        f'[[source]]\nid = "fm"\nkind = "file"\npath = "{recording}"\nreadrate = 1\nloop = true\n'
    )
    return AgentProcess(config, tmp_path / "agent.log").start()


def stat_value(page, label: str):
    """The value of the dashboard's stat labelled `label` (found again after each swap)."""
    return page.locator(".stat", has=page.locator(".stat-label", has_text=label)).locator(
        ".stat-value"
    )


def test_an_admin_sees_a_station_go_offline_when_its_agent_dies(
    tmp_path: Path, live_server: str, people: dict[str, Person], browser_page, broker,
    central_processes,
) -> None:  # fmt: skip
    """With joy-fm's agent running, the admin's overview counts one agent online and joy-fm's
    page shows pi-01 online; once the agent is killed, the broker's last will ("connection
    lost") reaches them through `zamio ingest` and both pages show it offline by their own
    polling, never reloaded; both pass axe."""
    central_processes("ingest", broker.port)
    agent = start_agent(tmp_path, broker.port)
    admin = people["admin"]
    try:
        overview, station = browser_page(), browser_page()
        for page in (overview, station):
            login(page, live_server, admin.email, admin.password)
        station.goto(f"{live_server}/stations/{STATION}")
        row = device_row(station, DEVICE)
        row.locator(".badge-online").wait_for(timeout=HEALTH_S_MAX * 1000)
        online = stat_value(overview, "Agents online")
        _wait_text(online, "1")
        for page in (overview, station):
            keep_marker(page)
            axe(page)
        agent.stop(signal.SIGKILL)  # gone without a goodbye: only the last will says so
        row.locator(".badge-offline").wait_for(timeout=HEALTH_S_MAX * 1000)
        assert "connection lost" in row.inner_text(), row.inner_text()
        _wait_text(stat_value(overview, "Agents offline"), "1")
        assert online.inner_text().strip() == "0"
        for page in (overview, station):
            assert not_reloaded(page), f"{page.url} was reloaded: health must come by polling"
            axe(page)
    finally:
        agent.stop(signal.SIGKILL)


def _wait_text(locator, text: str) -> None:
    """Wait until the locator's element (looked up afresh each time) reads `text`."""
    deadline = time.monotonic() + HEALTH_S_MAX
    while locator.inner_text().strip() != text:
        assert time.monotonic() < deadline, f"still {locator.inner_text()!r}, not {text!r}"
        time.sleep(0.2)


def admin_only_page(app: Flask) -> str:
    """A console page (GET, no arguments) that only admins (and auditors) may open."""
    with app.app_context():
        for rule in app.url_map.iter_rules():
            declared = policy.policy_of(app.view_functions[rule.endpoint])
            if (
                rule.rule.startswith("/admin")
                and "GET" in rule.methods
                and not rule.arguments
                and declared is not None
                and roles.STATION not in declared.roles
            ):
                return rule.rule
    pytest.fail("no admin page to refuse a station user")


def test_station_staff_are_kept_to_their_station(
    pg_app: Flask, live_server: str, people: dict[str, Person], browser_page
) -> None:
    """joy-fm's staff land on joy-fm's page; peace-fm's page is 404 and an admin page 403,
    each a clear page; a form sent without its CSRF token (the login form, and the sign-out
    form once signed in) is refused with 400; every page passes axe."""
    page = browser_page()
    page.goto(f"{live_server}/login")
    axe(page)
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.fill("input[name=email]", people["station"].email)
    page.fill("input[name=password]", people["station"].password)
    with page.expect_navigation() as refused:
        page.locator("form:has(input[name=password]) [type=submit]").click()
    assert refused.value.status == 400, refused.value.status
    axe(page)

    staff = people["station"]
    login(page, live_server, staff.email, staff.password)
    assert STATION in page.content()
    axe(page)
    for path, status in ((f"/stations/{OTHER_STATION}", 404), (admin_only_page(pg_app), 403)):
        response = page.goto(live_server + path)
        assert response.status == status, (path, response.status)
        assert page.locator("h1").inner_text().strip(), "the error page says what happened"
        axe(page)

    page.goto(live_server + "/")
    page.evaluate("document.querySelector('form.signout input[name=csrf_token]').remove()")
    with page.expect_navigation() as refused:
        page.locator("form.signout [type=submit]").click()
    assert refused.value.status == 400, refused.value.status
    axe(page)
    assert page.goto(live_server + "/").status == 200, "still signed in: the sign-out was refused"


def drawn_pixels(page, canvas_id: str, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the canvas are near `rgb` (the chart's data drawn, not just axes)."""
    return page.evaluate(
        """([id, rgb, tolerance]) => {
            const canvas = document.getElementById(id);
            const data = canvas.getContext('2d')
                .getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (data[i + 3] > 0 && Math.abs(data[i] - rgb[0]) < tolerance
                    && Math.abs(data[i + 1] - rgb[1]) < tolerance
                    && Math.abs(data[i + 2] - rgb[2]) < tolerance) { n++; }
            }
            return n;
        }""",
        [canvas_id, list(rgb), COLOUR_TOLERANCE],
    )


def test_an_artist_watches_a_demo_broadcast_and_downloads_a_statement(
    tmp_path: Path, browser_page
) -> None:
    """With `zamio demo --serve`, the artist it prints signs in before the broadcast, opens
    /live and sees her two plays (Sunrise Highlife, Volta Groove) arrive without a reload;
    after the demo her dashboard's earnings chart is drawn, and the month's statement
    downloads as CSV with a credit line per play; the admin and station logins it printed
    land on their dashboards; axe on every page; each role's dashboard into docs/."""
    with demo_serving(tmp_path) as demo:
        url, logins = console_of(demo.until(r"^broadcast "))
        email, password = logins["artist"]
        page = browser_page()
        login(page, url.rstrip("/"), email, password)
        page.goto(url + "live")
        keep_marker(page)
        rows = page.locator("#live-plays-rows tr[id^=play-]")
        at_open = rows.count()
        axe(page)
        for title in ("Sunrise Highlife", "Volta Groove"):
            page.locator("#live-plays-rows tr", has_text=title).first.wait_for(
                timeout=DEMO_PLAYS_S_MAX * 1000
            )
        assert rows.count() == 2 > at_open, (at_open, rows.count())
        assert not_reloaded(page), "the plays must come by polling, not by a reload"
        axe(page)
        play_ids = sorted(
            int(i.split("-")[1]) for i in rows.evaluate_all("rs => rs.map(r => r.id)")
        )

        demo.until(r"^Serving until Ctrl-C\.$")  # the plays are closed and accrued
        page.goto(url)
        page.locator("#earnings-chart").wait_for()
        page.wait_for_function("document.getElementById('earnings-chart').zamioChart")
        earned = page.evaluate(
            "document.getElementById('earnings-chart').zamioChart.data.datasets[0].data"
        )
        assert any(float(v) > 0 for v in earned), earned
        assert drawn_pixels(page, "earnings-chart", PALETTE_0) > 0, "no earnings drawn"
        axe(page)
        screenshot(page, "artist")

        page.goto(f"{url}plays/{play_ids[0]}")
        axe(page)
        page.goto(url + "statements")
        axe(page)
        with page.expect_download() as started:
            page.locator("a[href*='/statements/download']").click()
        download = started.value
        assert download.suggested_filename.endswith(".csv")
        lines = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
        played = {int(line["play_id"]) for line in lines if line.get("play_id")}
        assert played == set(play_ids), lines
        assert int(lines[-1]["balance_minor"]) > 0, "her plays earned her something"

        for role in ("admin", "station"):  # the README's pictures, of the demo's data
            email, password = logins[role]
            other = browser_page()
            login(other, url.rstrip("/"), email, password)
            axe(other)
            screenshot(other, role)

        demo.process.send_signal(signal.SIGINT)
        assert demo.process.wait(STOP_S_MAX) == 0


@pytest.mark.parametrize("screen", ["laptop", "phone"])
@pytest.mark.parametrize("role", ["admin", "station", "artist"])
def test_every_page_in_a_roles_menu_opens_and_passes_axe(
    role: str, screen: str, live_server: str, people: dict[str, Person], browser_page
) -> None:
    """Each link of the role's main menu opens (200) with no script error or CSP refusal and
    no serious or critical axe-core violation, on a laptop and on a phone, where nothing
    makes the page wider than the screen (wide tables scroll in their own box)."""
    page = browser_page(**(PHONE if screen == "phone" else {}))
    person = people[role]
    login(page, live_server, person.email, person.password)
    links = page.locator("header nav a").evaluate_all("links => links.map(a => a.href)")
    assert len(links) >= 2, links
    for link in links:
        response = page.goto(link)
        assert response.status == 200, (link, response.status)
        axe(page)
        wide, screen_px = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )  # fmt: skip
        assert wide <= screen_px + 1, f"{link} is {wide} px wide on a {screen_px} px screen"
