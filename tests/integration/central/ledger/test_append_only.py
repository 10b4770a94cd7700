"""The journal on PostgreSQL: the database refuses UPDATE and DELETE; tampering by a superuser
(triggers disabled) is found by `zamio ledger verify`."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.cli import cli
from central.extensions import db
from central.ledger import posting
from central.ledger.transfer import TransferRequest, credit, debit

pytestmark = pytest.mark.integration

REFUSED = {
    "UPDATE ledger_entry SET amount_minor = amount_minor + 1": "UPDATE on ledger_entry refused",
    "DELETE FROM ledger_entry WHERE leg = 1": "DELETE on ledger_entry refused",
    "UPDATE ledger_transfer SET state = 'voided'": "UPDATE on ledger_transfer refused",
    "DELETE FROM ledger_transfer WHERE seq = 2": "DELETE on ledger_transfer refused",
    "DELETE FROM ledger_account": "DELETE on ledger_account refused",
    "UPDATE ledger_account SET currency = 'USD'": "only its totals and floor change",
    "UPDATE ledger_account SET credits_posted_minor = 0": "posted totals only grow",
    "DELETE FROM ledger_chain_head": "DELETE on ledger_chain_head refused",
    "UPDATE ledger_chain_head SET seq = 1": "it only moves one seq forward",
}


def journal(session: Session) -> None:
    """Three committed transfers: a top-up and two royalties."""
    legs = [(debit("settlement:bank", 50_000), credit("station:joy-fm:wallet", 50_000))]
    legs += [(debit("station:joy-fm:wallet", n * 1000), credit("artist:1:earnings", n * 800),
              credit("platform:fees", n * 200)) for n in (1, 2)]  # fmt: skip
    for n, pair in enumerate(legs):
        posting.post_transfer(session, TransferRequest(f"t:{n}", "royalty", pair))
    session.commit()


@pytest.mark.parametrize("statement", list(REFUSED))
def test_database_refuses_changes_to_the_journal(session: Session, statement: str) -> None:
    """Raw SQL cannot change or delete transfers, entries, accounts or the chain head."""
    journal(session)
    with pytest.raises(IntegrityError, match=REFUSED[statement]), db.engine.begin() as c:
        c.execute(text(statement))


def tamper(statement: str, trigger_table: str) -> None:
    """Run `statement` as a superuser would: with the table's triggers disabled."""
    with db.engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {trigger_table} DISABLE TRIGGER USER"))
        connection.execute(text(statement))
        connection.execute(text(f"ALTER TABLE {trigger_table} ENABLE TRIGGER USER"))


def test_verify_passes_then_finds_a_changed_amount(
    session: Session, pg_runner: FlaskCliRunner
) -> None:
    """`zamio ledger verify` exits 0, then 1 listing each problem after an amount is changed."""
    journal(session)
    result = pg_runner.invoke(cli, ["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert re.search(
        r"ledger ok: 3 transfers, 8 entries, 9 accounts; chain head seq 3", result.output
    )
    tamper("UPDATE ledger_entry SET amount_minor = 1 WHERE transfer_seq = 2 AND leg = 1",
           "ledger_entry")  # fmt: skip
    result = pg_runner.invoke(cli, ["ledger", "verify"])
    assert result.exit_code == 1
    assert "problem: transfer seq 2 (t:1): unbalanced: debits 1000 != credits 201" in result.output
    assert "problem: transfer seq 2 (t:1): content hash does not recompute" in result.output
    assert "problem: account artist:1:earnings: credits_posted_minor 2400 != 1601" in result.output


def test_verify_finds_a_deleted_transfer(session: Session, pg_runner: FlaskCliRunner) -> None:
    """Removing a transfer and its entries breaks seq, the chain and the balances."""
    journal(session)
    tamper("DELETE FROM ledger_entry WHERE transfer_seq = 2", "ledger_entry")
    tamper("DELETE FROM ledger_transfer WHERE seq = 2", "ledger_transfer")
    result = pg_runner.invoke(cli, ["ledger", "verify", "--json"])
    assert result.exit_code == 1
    assert "transfer seq 3 (t:2): follows seq 1: transfers are missing" in result.output
    assert "prev_hash is not the hash of seq 1: chain broken" in result.output


def test_verify_finds_a_forged_balance(session: Session, pg_runner: FlaskCliRunner) -> None:
    """An account total raised behind the ledger's back disagrees with its entries."""
    journal(session)
    tamper("UPDATE ledger_account SET credits_posted_minor = credits_posted_minor + 99"
           " WHERE code = 'artist:1:earnings'", "ledger_account")  # fmt: skip
    result = pg_runner.invoke(cli, ["ledger", "verify"])
    assert result.exit_code == 1
    assert "account artist:1:earnings: credits_posted_minor 2499 != 2400" in result.output
