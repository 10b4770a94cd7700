"""A royalty batch killed in the middle, then run again: nothing doubled, nothing missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from central.cli import cli
from central.extensions import db
from central.ledger.models import Transfer
from central.royalties import jobs
from central.royalties.models import POSTED, RoyaltyAccrual
from tests.integration.central.royalties.conftest import (
    TARIFF,
    WALLET,
    accrual,
    assert_ledger_ok,
    balance,
    credits_and_station_debits,
)

pytestmark = pytest.mark.integration

# The child runs accrue_batch (the body of the accrue_pending job) and stalls inside the
# transaction of its second play, after the transfer is posted and the accrual flushed: it holds
# the ledger's chain head and the accounts' locks when it is killed.
_KILLED_MID_BATCH = """
    import time
    from central import create_app
    from central.extensions import db
    from central.royalties import jobs
    real = jobs.accrue_play
    seen = []
    def accrue_then_stall(session, *args, **kwargs):
        accrual = real(session, *args, **kwargs)
        seen.append(accrual.play_id)
        if len(seen) == 2:
            session.flush()
            print("stalled", accrual.play_id, flush=True)
            time.sleep(60)
        return accrual
    jobs.accrue_play = accrue_then_stall
    app = create_app({{"DATABASE_URL": {url!r}, "TESTING": True}})
    with app.app_context():
        jobs.accrue_batch(db.session, 100, {tariff!r}, batch_id="killed")
"""


def test_batch_killed_mid_play_then_rerun_accrues_each_play_once(
    pg_app: Flask, show_plays: dict[str, int], pg_database_url: str, pg_runner: FlaskCliRunner
) -> None:
    """SIGKILL while the second play's transfer is posted but not committed: the first play
    stays accrued, the second left no trace and no lock; the re-run accrues the other two, each
    play has one accrual and one transfer, the ledger verifies, credits equal station debits."""
    script = textwrap.dedent(_KILLED_MID_BATCH.format(url=pg_database_url, tariff=TARIFF))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        stalled = child.stdout.readline().split()
    finally:
        child.kill()
        child.wait(timeout=10)
        child.stdout.close()
    first, second, third = sorted(show_plays.values())
    assert stalled == ["stalled", str(second)]
    with pg_app.app_context():
        assert accrual(db.session, first).batch_id == "killed"
        assert db.session.scalar(select(func.count()).select_from(RoyaltyAccrual)) == 1
        assert db.session.scalar(select(func.count()).select_from(Transfer)) == 1
        db.session.rollback()
        rerun = jobs.accrue_batch(db.session, 100, TARIFF)
        assert rerun.play_ids == (second, third) and rerun.states == {POSTED: 2}
        keys = sorted(db.session.scalars(select(Transfer.idempotency_key)))
        assert keys == sorted(jobs.play_key(p) for p in show_plays.values())
        accrued = [accrual(db.session, p) for p in (first, second, third)]
        assert [a.batch_id for a in accrued] == ["killed", rerun.batch_id, rerun.batch_id]
        total = sum(a.amount_minor for a in accrued)
        assert credits_and_station_debits(db.session) == (total, total)
        assert balance(db.session, WALLET) == -total
        assert_ledger_ok(db.session)
    verified = pg_runner.invoke(cli, ["ledger", "verify"])
    assert verified.exit_code == 0 and "ledger ok: 3 transfers" in verified.output
