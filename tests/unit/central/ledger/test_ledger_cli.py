"""`zamio ledger` on SQLite: accounts, transfers, holds, balance, statement, verify; and the
SQLite triggers that refuse to change the journal, as on PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from central.cli import cli
from central.extensions import db

REFUSED = (
    "UPDATE ledger_entry SET amount_minor = 1",
    "DELETE FROM ledger_entry",
    "UPDATE ledger_transfer SET code = 'x'",
    "DELETE FROM ledger_transfer",
    "DELETE FROM ledger_account",
    "UPDATE ledger_chain_head SET seq = 7",
)


def ok(runner: FlaskCliRunner, *args: str) -> str:
    """Run `zamio ARGS`; assert exit 0; its stdout."""
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def ledger(runner: FlaskCliRunner) -> FlaskCliRunner:
    """A bank, a station wallet with a GHS 50 credit limit, and an artist, opened by the CLI."""
    ok(runner, "ledger", "account", "add", "settlement:bank", "--kind", "settlement")
    ok(runner, "ledger", "account", "add", "station:joy-fm:wallet", "--kind", "station_wallet",
       "--credit-limit-minor", "5000")  # fmt: skip
    ok(runner, "ledger", "account", "add", "artist:1:earnings", "--kind", "artist_earnings")
    return runner


def test_transfers_holds_and_balances(ledger: FlaskCliRunner) -> None:
    """A top-up, a royalty and a voided hold leave the balances the statement shows."""
    ok(ledger, "ledger", "transfer", "--key", "topup:1", "--code", "topup",
       "--debit", "settlement:bank=20000", "--credit", "station:joy-fm:wallet=20000")  # fmt: skip
    ok(ledger, "ledger", "transfer", "--key", "royalty:1", "--code", "royalty",
       "--debit", "station:joy-fm:wallet=1250", "--credit", "artist:1:earnings=1250")  # fmt: skip
    held = ok(ledger, "ledger", "transfer", "--key", "hold:1", "--code", "payout", "--pending",
              "--debit", "artist:1:earnings=1000", "--credit", "settlement:bank=1000")  # fmt: skip
    hold_id = re.search(r"transfer (\S+) seq 3 pending", held).group(1)
    assert "available  GHS 2.50" in ok(ledger, "ledger", "balance", "artist:1:earnings")
    ok(ledger, "ledger", "void-pending", hold_id, "--key", "hold:1:void")
    balance = json.loads(ok(ledger, "ledger", "balance", "artist:1:earnings", "--json"))
    assert (balance["balance_minor"], balance["available_minor"]) == (1250, 1250)
    statement = ok(ledger, "ledger", "statement", "station:joy-fm:wallet")
    assert "opening GHS 0.00" in statement and "closing GHS 187.50" in statement
    assert "ledger ok: 4 transfers" in ok(ledger, "ledger", "verify")


def test_same_key_twice_posts_once_and_other_content_is_refused(ledger: FlaskCliRunner) -> None:
    """A repeated command posts nothing new; the same key for other legs is an error."""
    args = ["ledger", "transfer", "--key", "topup:1", "--code", "topup",
            "--debit", "settlement:bank=100", "--credit", "station:joy-fm:wallet=100"]  # fmt: skip
    assert ok(ledger, *args) == ok(ledger, *args)
    result = ledger.invoke(cli, [*args[:-1], "station:joy-fm:wallet=99"])
    assert result.exit_code == 1 and "Error: debits 100 != credits 99" in result.output
    result = ledger.invoke(
        cli, [*args[:-3], "settlement:bank=99", *args[-2:-1], "station:joy-fm:wallet=99"]
    )
    assert result.exit_code == 1 and "was used for transfer" in result.output


def test_credit_limit_refuses_an_overdraft(ledger: FlaskCliRunner) -> None:
    """The wallet may go GHS 50 below zero and no further."""
    args = ["ledger", "transfer", "--code", "royalty", "--credit", "artist:1:earnings=5001",
            "--debit", "station:joy-fm:wallet=5001", "--key"]  # fmt: skip
    result = ledger.invoke(cli, [*args, "royalty:big"])
    assert result.exit_code == 1
    assert "station:joy-fm:wallet: available GHS -50.01 would be below its floor" in result.output
    ok(ledger, *[a.replace("5001", "5000") for a in args], "royalty:limit")


def test_sqlite_triggers_refuse_changes_and_verify_finds_tampering(
    app: Flask, ledger: FlaskCliRunner
) -> None:
    """UPDATE and DELETE of the journal are refused; with the trigger dropped, verify fails."""
    ok(ledger, "ledger", "transfer", "--key", "topup:1", "--code", "topup",
       "--debit", "settlement:bank=100", "--credit", "station:joy-fm:wallet=100")  # fmt: skip
    with app.app_context():
        for statement in REFUSED:
            with pytest.raises(IntegrityError, match="refused"), db.engine.begin() as c:
                c.execute(text(statement))
        with db.engine.begin() as connection:
            connection.execute(text("DROP TRIGGER ledger_entry_no_update"))
            connection.execute(text("UPDATE ledger_entry SET amount_minor = 1 WHERE leg = 0"))
    result = ledger.invoke(cli, ["ledger", "verify"])
    assert result.exit_code == 1
    assert "problem: transfer seq 1 (topup:1): unbalanced: debits 1 != credits 100" in result.output
    assert "ledger BROKEN" in result.output


def test_account_add_is_idempotent_and_conflicts_are_refused(ledger: FlaskCliRunner) -> None:
    """Opening the same account twice is fine; with another kind it is an error."""
    ok(ledger, "ledger", "account", "add", "artist:1:earnings", "--kind", "artist_earnings")
    result = ledger.invoke(cli, ["ledger", "account", "add", "artist:1:earnings", "--kind", "hold"])
    assert result.exit_code == 1 and "exists as" in result.output
    listing = json.loads(ok(ledger, "ledger", "account", "list", "--json"))
    assert [a["code"] for a in listing] == [
        "artist:1:earnings", "settlement:bank", "station:joy-fm:wallet",
    ]  # fmt: skip
