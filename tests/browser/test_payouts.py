"""Payouts in headless Chromium: the artist registers a number and asks for a withdrawal; the
admin approves it on its page and it is paid through the MoMo simulator; every page passes axe.
The artist's payouts page is pictured (docs/console-payouts.png with SCREENSHOTS_DIR=docs)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask

from central.payouts import jobs
from central.payouts.momo import MomoProvider
from central.payouts.momo_sim import SimConfig, start_in_thread
from tests.browser.conftest import ARTIST_PARTY, Person, axe, login, screenshot
from tests.integration.central.payouts.conftest import fund

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def paying(pg_app: Flask) -> Iterator[Flask]:
    """pg_app paying through a MoMo simulator in this process."""
    config = SimConfig(
        api_user=str(uuid.uuid4()), api_key=secrets.token_urlsafe(16),
        subscription_key=secrets.token_urlsafe(16), success_delay_ms=100,
    )  # fmt: skip
    url, stop = start_in_thread(config)
    pg_app.extensions[jobs.PROVIDER_KEY] = MomoProvider(
        url, config.api_user, config.api_key, config.subscription_key, timeout_s=5
    )
    yield pg_app
    stop()


def test_an_artist_is_paid_by_mobile_money(
    paying: Flask, live_server: str, people: dict[str, Person], browser_page
) -> None:
    """Number, withdrawal, approval, paid: by the forms a person uses."""
    fund(paying, ARTIST_PARTY, 120_000, "browser:fund")
    artist, admin = people["artist"], people["admin"]
    page = browser_page()
    login(page, live_server, artist.email, artist.password)
    page.get_by_role("link", name="Payouts").click()
    page.get_by_label("Mobile-money number").fill("024 123 4567")
    page.get_by_label("Account holder's name").fill("Ama Serwaa")
    page.get_by_role("button", name="Save the number").click()
    page.get_by_text("Payout method saved.").wait_for()
    axe(page)
    page.get_by_label("Amount (GHS)").fill("300")
    page.get_by_role("button", name="Ask for this withdrawal").click()
    page.locator(".badge-requested").first.wait_for()
    withdrawal_url = page.url
    axe(page)
    page.get_by_role("link", name="Payouts").click()
    assert "GHS 900.00" in page.locator(".stats").inner_text()  # 1,200 less 300 held
    screenshot(page, "payouts")

    desk = browser_page()
    login(desk, live_server, admin.email, admin.password)
    desk.get_by_role("link", name="Payouts").click()
    axe(desk)
    desk.goto(withdrawal_url)
    desk.get_by_role("button", name="Approve").click()
    desk.locator("h1 .badge-paid").wait_for()
    assert "SUCCESSFUL" in desk.locator("dl.facts").inner_text()
    axe(desk)
