"""Several processes posting at once on PostgreSQL, and a worker killed mid-batch: no lost
update, no deadlock, nothing doubled, nothing missing; verify passes."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from central.ledger import posting, queries
from central.ledger.models import Transfer
from central.ledger.transfer import TransferRequest, credit, debit
from central.ledger.verify import verify
from tests.integration.central.ledger import workers
from tests.integration.central.ledger.conftest import open_chart

pytestmark = pytest.mark.integration

PROCESSES = 4
NUMBERS = 240  # distinct transfers; each is posted by two processes
KILL_WAIT_S_MAX = 60.0


def deadlocks(session: Session) -> int:
    """Deadlocks PostgreSQL has detected in this database so far."""
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    count = session.scalar(
        text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    )
    session.rollback()
    return int(count)


def post_while_verifying(session: Session, url: str, shares: list[list[int]]) -> list[dict]:
    """Run workers.post_numbers for each share in its own process; verify meanwhile."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(shares), mp_context=context) as pool:
        futures = [pool.submit(workers.post_numbers, url, share) for share in shares]
        while not all(f.done() for f in futures):
            report = verify(session)  # a snapshot taken while others post
            session.rollback()
            assert report.ok, report.problems
            time.sleep(0.2)
        return [f.result(timeout=120) for f in futures]


def expected_totals(posted: set[str]) -> dict[str, list[int]]:
    """[debits, credits] posted per hot account, if the posted transfers had run one by one."""
    expected = {a: [0, 0] for a in workers.HOT}
    for number in range(NUMBERS):
        if f"hot:{number}" in posted:
            for leg in workers.hot_request(number).legs:
                if leg.account in expected:
                    expected[leg.account][leg.side == "credit"] += leg.amount_minor
    return expected


def batch_keys(session: Session, batch: str) -> list[str]:
    """The idempotency keys of a batch's transfers in the journal, by item number."""
    rows = session.scalars(select(Transfer.idempotency_key).where(
        Transfer.idempotency_key.startswith(f"{batch}:"))).all()  # fmt: skip
    session.rollback()
    return sorted(rows, key=lambda key: int(key.rsplit(":", 1)[1]))


def test_overlapping_postings_from_processes(session: Session, pg_database_url: str) -> None:
    """4 processes post overlapping multi-leg transfers between 6 hot accounts, each transfer
    twice: every transfer once, totals as if serial, no deadlock, verify passes throughout."""
    open_chart(session, {a: ("suspense", None, True) for a in workers.HOT})
    open_chart(session, {workers.BOUNDED: ("station_wallet", None, None),
                         "funding": ("settlement", None, None)})  # fmt: skip
    posting.post_transfer(session, TransferRequest("fund", "topup", (
        debit("funding", 10_000), credit(workers.BOUNDED, 10_000))))  # fmt: skip
    session.commit()
    deadlocks_before = deadlocks(session)
    shares = [[n for n in range(NUMBERS) if n % PROCESSES in (p, (p + 1) % PROCESSES)]
              for p in range(PROCESSES)]  # fmt: skip
    counts = post_while_verifying(session, pg_database_url, shares)
    posted = session.scalars(select(Transfer.idempotency_key).where(
        Transfer.idempotency_key.startswith("hot:"))).all()  # fmt: skip
    assert len(posted) == len(set(posted))
    assert sum(c["posted"] + c["refused"] for c in counts) == 2 * NUMBERS
    for account, (debits_minor, credits_minor) in expected_totals(set(posted)).items():
        got = queries.balance(session, account)
        assert (got.debits_posted_minor, got.credits_posted_minor) == (debits_minor, credits_minor)
    bounded = sum(1 for n in range(0, NUMBERS, 5) if f"hot:{n}" in posted)
    assert bounded == 10_000 // 700  # refused exactly when the wallet ran dry, never below 0
    assert len(posted) == NUMBERS - (NUMBERS // 5 - bounded)
    assert deadlocks(session) == deadlocks_before
    report = verify(session)
    assert report.ok, report.problems


def test_worker_killed_mid_batch_then_rerun(session: Session, pg_database_url: str) -> None:
    """SIGKILL inside a transaction of a batch, then the whole batch again: each item once."""
    size, chunk = 60, 10
    context = multiprocessing.get_context("spawn")
    stopped = context.Event()
    worker = context.Process(
        target=workers.post_batch, args=(pg_database_url, "batch:7", size, chunk, 34, stopped)
    )
    worker.start()
    assert stopped.wait(KILL_WAIT_S_MAX), "the worker never reached item 34"
    worker.kill()
    worker.join()

    assert batch_keys(session, "batch:7") == [
        f"batch:7:{n}" for n in range(30)
    ]  # 3 chunks committed, the 4th lost
    rerun = context.Process(target=workers.post_batch, args=(pg_database_url, "batch:7", size, 7))
    rerun.start()
    rerun.join(KILL_WAIT_S_MAX)
    assert rerun.exitcode == 0
    assert batch_keys(session, "batch:7") == [f"batch:7:{n}" for n in range(size)]
    amounts_minor = sum(100 + n for n in range(size))
    assert queries.balance(session, "artist:1:earnings").balance_minor == amounts_minor
    assert queries.balance(session, "station:joy-fm:wallet").balance_minor == -2 * amounts_minor
    count = session.scalar(select(func.count()).select_from(Transfer))
    report = verify(session)
    assert report.ok and report.transfers == count == size, report.problems
