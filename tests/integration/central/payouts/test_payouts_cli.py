"""The command line, as an operator runs it on the embedded defaults (SQLite, jobs inline) with
the simulator as the provider: method add, request (the id on its last line), approve, show
--json ending paid; a four-eyes withdrawal; a failing number refunded; reconcile clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.central.payouts.conftest import (
    API_KEY,
    API_USER,
    FAILING_NUMBER,
    SUBSCRIPTION_KEY,
    SUCCESS_NUMBER,
    Sim,
)

pytestmark = pytest.mark.integration


def zamio(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    """Run `zamio ARGS` as a separate process."""
    done = subprocess.run(
        [sys.executable, "-m", "central", *args], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def env(tmp_path: Path, sim: Sim) -> dict[str, str]:
    """The environment of an operator paying through the simulator, on SQLite."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
    return base | {
        "ZAMIO_DATABASE_URL": f"sqlite:///{tmp_path / 'zamio.db'}",
        "ZAMIO_MOMO_URL": sim.url,
        "ZAMIO_MOMO_API_USER": API_USER,
        "ZAMIO_MOMO_API_KEY": API_KEY,
        "ZAMIO_MOMO_SUBSCRIPTION_KEY": SUBSCRIPTION_KEY,
        "ZAMIO_PAYOUTS_MINIMUM_MINOR": "500",
        "ZAMIO_PAYOUTS_FOUR_EYES_MINOR": "100000",
    }


def test_an_operator_pays_an_artist_from_the_command_line(env: dict[str, str]) -> None:
    """The acceptance path of the issue, and four eyes, and a refund."""
    zamio(env, "db", "upgrade")
    for email, role, extra in [
        ("ama@artists.test", "artist", ["--party", "artist:ama:earnings"]),
        ("ops@zamio.test", "admin", []),
        ("cfo@zamio.test", "admin", []),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "central", "user", "add", email, "--role", role,
             "--password-stdin", *extra],
            env=env, input="a long enough passphrase\n", capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    zamio(env, "ledger", "account", "add", "settlement:bank", "--kind", "settlement")
    zamio(env, "ledger", "account", "add", "artist:ama:earnings", "--kind", "artist_earnings")
    legs = ["--debit", "settlement:bank=300000", "--credit", "artist:ama:earnings=300000"]
    zamio(env, "ledger", "transfer", "--key", "fund:1", "--code", "royalty", *legs)

    zamio(env, "payouts", "method", "add", "ama@artists.test", "--msisdn", SUCCESS_NUMBER)
    requested = zamio(env, "payouts", "request", "ama@artists.test", "25000")
    withdrawal_id = requested.stdout.strip().splitlines()[-1]
    assert withdrawal_id.isdigit()
    zamio(env, "payouts", "approve", withdrawal_id, "--by", "ops@zamio.test")
    shown = json.loads(zamio(env, "payouts", "show", withdrawal_id, "--json").stdout)
    assert shown["status"] == "paid" and shown["amount_minor"] == 25000
    assert [step["to"] for step in shown["history"]] == [
        "requested", "approved", "sending", "pending", "paid",
    ]  # fmt: skip

    big = zamio(env, "payouts", "request", "ama@artists.test", "150000").stdout.split()[-1]
    zamio(env, "payouts", "approve", big, "--by", "ops@zamio.test")
    again = zamio(env, "payouts", "approve", big, "--by", "ops@zamio.test", ok=False)
    assert again.returncode == 1 and "already" in again.stderr
    assert json.loads(zamio(env, "payouts", "show", big, "--json").stdout)["status"] == "requested"
    zamio(env, "payouts", "approve", big, "--by", "cfo@zamio.test")
    assert json.loads(zamio(env, "payouts", "show", big, "--json").stdout)["status"] == "paid"

    zamio(env, "payouts", "method", "add", "ama@artists.test", "--msisdn", FAILING_NUMBER)
    refused = zamio(env, "payouts", "request", "ama@artists.test", "1000", ok=False)
    assert refused.returncode == 1 and "changed recently" in refused.stderr

    balance = json.loads(zamio(env, "ledger", "balance", "artist:ama:earnings", "--json").stdout)
    assert balance["balance_minor"] == 300000 - 25000 - 150000
    zamio(env, "ledger", "verify")
    reconciled = json.loads(zamio(env, "payouts", "reconcile", "--json").stdout)
    assert reconciled["checked"] == 2 and reconciled["mismatches"] == 0
