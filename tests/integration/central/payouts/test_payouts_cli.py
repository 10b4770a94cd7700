"""The command line, as an operator runs it on the embedded defaults (SQLite, jobs inline) with
the simulator as the provider: method add, request (the id on its last line), approve, show
--json ending paid; a four-eyes withdrawal; a failing number refunded; reconcile clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from central import create_app
from central.cli import cli as cli_group
from tests.conftest import disposed
from tests.integration.central.payouts.conftest import (
    API_KEY,
    API_USER,
    FAILING_NUMBER,
    SUBSCRIPTION_KEY,
    SUCCESS_NUMBER,
    Sim,
)

pytestmark = pytest.mark.integration


def zamio(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run `zamio ARGS` as a separate process, as an operator does."""
    done = subprocess.run(
        [sys.executable, "-m", "central", *args], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
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


@pytest.fixture
def cli(env: dict[str, str]) -> Iterator[Callable[..., Result]]:
    """The same commands in this process (quicker), on the same database and settings."""
    settings = {k[len("ZAMIO_") :]: v for k, v in env.items() if k.startswith("ZAMIO_")}
    app = create_app(settings)
    runner = app.test_cli_runner()

    def run(*args: str, ok: bool = True, stdin: str | None = None) -> Result:
        result = runner.invoke(cli_group, list(args), input=stdin)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    yield run
    disposed(app)


def test_an_operator_pays_an_artist_from_the_command_line(env: dict[str, str], cli) -> None:
    """The acceptance path of the issue (request, approve and show as separate processes), four
    eyes, the cooling-off of a changed number, the ledger's check and the reconciliation."""
    for email, role, extra in [
        ("ama@artists.test", "artist", ["--party", "artist:ama:earnings"]),
        ("ops@zamio.test", "admin", []),
        ("cfo@zamio.test", "admin", []),
    ]:
        cli("user", "add", email, "--role", role, "--password-stdin", *extra,
            stdin="a long enough passphrase\n")  # fmt: skip
    cli("ledger", "account", "add", "settlement:bank", "--kind", "settlement")
    cli("ledger", "account", "add", "artist:ama:earnings", "--kind", "artist_earnings")
    legs = ["--debit", "settlement:bank=300000", "--credit", "artist:ama:earnings=300000"]
    cli("ledger", "transfer", "--key", "fund:1", "--code", "royalty", *legs)
    cli("payouts", "method", "add", "ama@artists.test", "--msisdn", SUCCESS_NUMBER)

    requested = zamio(env, "payouts", "request", "ama@artists.test", "25000")
    withdrawal_id = requested.stdout.strip().splitlines()[-1]
    assert withdrawal_id.isdigit()
    zamio(env, "payouts", "approve", withdrawal_id, "--by", "ops@zamio.test")
    shown = json.loads(zamio(env, "payouts", "show", withdrawal_id, "--json").stdout)
    assert shown["status"] == "paid" and shown["amount_minor"] == 25000
    assert [step["to"] for step in shown["history"]] == [
        "requested", "approved", "sending", "pending", "paid",
    ]  # fmt: skip

    big = cli("payouts", "request", "ama@artists.test", "150000").output.split()[-1]
    cli("payouts", "approve", big, "--by", "ops@zamio.test")
    again = cli("payouts", "approve", big, "--by", "ops@zamio.test", ok=False)
    assert again.exit_code == 1 and "already" in again.output
    assert json.loads(cli("payouts", "show", big, "--json").output)["status"] == "requested"
    cli("payouts", "approve", big, "--by", "cfo@zamio.test")
    assert json.loads(cli("payouts", "show", big, "--json").output)["status"] == "paid"

    cli("payouts", "method", "add", "ama@artists.test", "--msisdn", FAILING_NUMBER)
    refused = cli("payouts", "request", "ama@artists.test", "1000", ok=False)
    assert refused.exit_code == 1 and "changed recently" in refused.output

    balance = json.loads(cli("ledger", "balance", "artist:ama:earnings", "--json").output)
    assert balance["balance_minor"] == 300000 - 25000 - 150000
    cli("ledger", "verify")
    reconciled = json.loads(cli("payouts", "reconcile", "--json").output)
    assert reconciled["checked"] == 2 and reconciled["mismatches"] == 0
