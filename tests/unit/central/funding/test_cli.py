"""`zamio funding` on the embedded defaults (SQLite, inline jobs): a top-up recorded once, an
unfunded royalty paid by it, an invoice issued once and shown, the ledger sound."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from central import worker
from central.cli import cli
from central.extensions import db
from central.ledger.accounts import account_spec, open_account
from central.royalties import jobs
from central.royalties.models import POSTED, UNFUNDED, RoyaltyAccrual
from tests.integration.central import rows


@pytest.fixture(autouse=True)
def _inline_jobs() -> Iterator[None]:
    """The inline queue's jobs use the test's app; forgotten after the test."""
    yield
    worker.use_app(None)


def run(runner: FlaskCliRunner, *args: str) -> str:
    """The output of a command that must succeed."""
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_top_ups_and_invoices_from_the_command_line(app: Flask, runner: FlaskCliRunner) -> None:
    """joy-fm prepaid with an unfunded play: `funding topup` pays it (the inline job), twice is
    one top-up, another amount fails; peace-fm postpaid gets one invoice of 2025-11."""
    with app.app_context():
        joy = rows.add_station(db.session, "joy-fm")
        rows.add_station(db.session, "peace-fm")
        open_account(db.session, account_spec("station:joy-fm:wallet", "station_wallet"))
        open_account(db.session, account_spec("station:peace-fm:wallet", "station_wallet",
                                              unbounded=True))  # fmt: skip
        play = rows.add_play(db.session, joy, rows.add_track(db.session, "T1"), rows.T0_MS)
        play_id = play.id
        db.session.commit()
        assert jobs.accrue_batch(db.session, 10, "broadcast").states == {UNFUNDED: 1}
    first = run(runner, "funding", "topup", "joy-fm", "10000", "--method", "momo",
                "--reference", "mp-1", "--received", "2025-11-30")  # fmt: skip
    assert "top-up 1 recorded: GHS 100.00" in first
    again = run(runner, "funding", "topup", "joy-fm", "10000", "--method", "momo",
                "--reference", "MP-1")  # fmt: skip
    assert "recorded before" in again
    refused = runner.invoke(cli, ["funding", "topup", "joy-fm", "9", "--method", "momo",
                                  "--reference", "MP-1"])  # fmt: skip
    assert refused.exit_code == 1 and "one reference is one payment" in refused.output
    with app.app_context():
        state = db.session.scalar(
            select(RoyaltyAccrual.state).where(RoyaltyAccrual.play_id == play_id)
        )
        assert state == POSTED
    issued = run(runner, "funding", "invoice", "peace-fm", "--month", "2025-11")
    assert issued.splitlines()[-1] == "ZIO-2025-11-peace-fm"
    assert "issued before" in run(runner, "funding", "invoice", "peace-fm", "--month", "2025-11")
    prepaid = runner.invoke(cli, ["funding", "invoice", "joy-fm", "--month", "2025-11"])
    assert prepaid.exit_code == 1 and "prepaid" in prepaid.output
    shown = json.loads(run(runner, "funding", "show", "ZIO-2025-11-peace-fm", "--json"))
    assert shown["status"] == "paid" and shown["lines"] == [] and shown["payments"] == []
    listed = json.loads(run(runner, "funding", "invoices", "--json"))
    assert [i["number"] for i in listed] == ["ZIO-2025-11-peace-fm"]
    topups = json.loads(run(runner, "funding", "topups", "--station", "joy-fm", "--json"))
    assert [(t["reference"], t["received_on"]) for t in topups] == [("MP-1", "2025-11-30")]
    assert "ledger ok" in run(runner, "ledger", "verify")
