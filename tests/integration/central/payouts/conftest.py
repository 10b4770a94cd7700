"""Fixtures of the payout tests: the MoMo simulator as a separate process (`zamio momo-sim`),
reset before each test; an app paying through it; a party with earnings, its user and admins."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from flask import Flask

from central import create_app
from central.auth import users
from central.extensions import db
from central.ledger import posting
from central.ledger.accounts import account_spec, open_account
from central.ledger.transfer import TransferRequest, credit, debit
from central.payouts import jobs
from central.payouts.momo import MomoProvider
from tests.conftest import disposed
from tests.integration.central.console.conftest import (  # noqa: F401 (the console's fixtures)
    console_client,
    console_people,
)

PARTY = "artist:ama:earnings"
OTHER_PARTY = "artist:kofi:earnings"
ARTIST, OTHER_ARTIST = "ama@artists.test", "kofi@artists.test"
ADMINS = ("ops@zamio.test", "finance@zamio.test", "cfo@zamio.test")
PASSWORD = "a long enough passphrase"
API_USER = "6f0b7f8e-3c1d-4e2a-9b5f-2d8c4a1e7b90"  # a constant: conftest may be imported twice
API_KEY = "sim-api-key-0123456789"
SUBSCRIPTION_KEY = "sim-subscription-key-0123456789"
SUCCESS_NUMBER = "0241234567"  # any number not ending in a test code: paid
FAILING_NUMBER = "0244123450"  # ...123450: FAILED INTERNAL_PROCESSING_ERROR
INACTIVE_NUMBER = "0244123457"  # ...123457: no active account
_URL = re.compile(r"http://[0-9.]+:[0-9]+")


@dataclass(frozen=True)
class Sim:
    """A running simulator: its URL, and its control API."""

    url: str

    def faults(self, **changes: object) -> None:
        """Merge fault settings (momo_sim's control API)."""
        requests.post(f"{self.url}/_sim/faults", json=changes, timeout=5).raise_for_status()

    def transfers(self, **query: str) -> dict:
        """What the simulator holds (each reference with its POST count)."""
        response = requests.get(f"{self.url}/_sim/transfers", params=query, timeout=5)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Everything as started."""
        requests.post(f"{self.url}/_sim/reset", timeout=5).raise_for_status()


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sim_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """`zamio momo-sim` in its own process for the whole session."""
    port = free_port()
    command = [
        sys.executable, "-m", "central", "momo-sim", "--host", "127.0.0.1", "--port", str(port),
        "--api-user", API_USER, "--api-key", API_KEY, "--subscription-key", SUBSCRIPTION_KEY,
        "--success-delay-ms", "100", "--slow-delay-ms", "1000",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
    log_path = tmp_path_factory.mktemp("momo-sim") / "sim.log"
    log = log_path.open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/_sim/stats", timeout=1)
            break
        except requests.ConnectionError:
            if process.poll() is not None:
                raise RuntimeError(log_path.read_text()) from None
            time.sleep(0.1)
    try:
        yield Sim(url)
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def sim(sim_process: Sim) -> Sim:
    """The session's simulator, reset for this test."""
    sim_process.reset()
    return sim_process


def momo_settings(sim: Sim) -> dict[str, object]:
    """Settings overrides of an app paying through `sim`."""
    return {
        "MOMO_URL": sim.url, "MOMO_API_USER": API_USER, "MOMO_API_KEY": API_KEY,
        "MOMO_SUBSCRIPTION_KEY": SUBSCRIPTION_KEY, "MOMO_TIMEOUT_S": 2,
    }  # fmt: skip


@pytest.fixture
def pay_app(pg_app: Flask, pg_database_url: str, sim: Sim) -> Iterator[Flask]:
    """An app on the test's PostgreSQL database paying through the simulator (pg_app empties
    the tables after)."""
    app = create_app({"DATABASE_URL": pg_database_url, "TESTING": True, **momo_settings(sim)})
    assert isinstance(jobs.provider_for(app), MomoProvider)
    yield app
    disposed(app)


def fund(app: Flask, party: str, amount_minor: int, key: str) -> None:
    """Credit `party`'s earnings with `amount_minor` (as royalties would), once per key."""
    with app.app_context():
        open_account(db.session, account_spec("settlement:bank", "settlement"))
        open_account(db.session, account_spec(party, "artist_earnings"))
        posting.post_transfer(db.session, TransferRequest(
            key, "royalty", (debit("settlement:bank", amount_minor), credit(party, amount_minor)),
        ))  # fmt: skip
        db.session.commit()


@pytest.fixture
def people(pay_app: Flask) -> dict[str, int]:
    """Two artists (each with their party), three admins; user ids by email. Ama has
    GHS 5,000.00 of earnings."""
    with pay_app.app_context():
        found = {
            ARTIST: users.add_user(db.session, ARTIST, "artist", PASSWORD, (), (PARTY,)),
            OTHER_ARTIST: users.add_user(
                db.session, OTHER_ARTIST, "artist", PASSWORD, (), (OTHER_PARTY,)
            ),
        }
        for email in ADMINS:
            found[email] = users.add_user(db.session, email, "admin", PASSWORD)
        db.session.commit()
        ids = {email: user.id for email, user in found.items()}
    fund(pay_app, PARTY, 500_000, "test:fund:ama")
    return ids
