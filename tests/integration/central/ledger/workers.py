"""Worker processes of the ledger's concurrency and crash tests (spawned: importable functions)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from central.ledger import posting, retry
from central.ledger.errors import BalanceRuleViolation
from central.ledger.transfer import Leg, TransferRequest, credit, debit

HOT = ["hot:a", "hot:b", "hot:c", "hot:d", "hot:e"]  # unbounded: every transfer on them posts
BOUNDED = "hot:wallet"  # floor 0, funded once: some postings on it are refused


def hot_request(number: int) -> TransferRequest:
    """Transfer `number` of the concurrency test: the same content in every process."""
    rng = random.Random(number)
    accounts = rng.sample(HOT, rng.randint(2, 4))
    parts = [rng.randint(1, 10_000) for _ in accounts[1:]]
    legs: list[Leg] = [debit(accounts[0], sum(parts))]
    legs += [credit(a, p) for a, p in zip(accounts[1:], parts)]
    if number % 5 == 0:  # every fifth also draws on the bounded wallet
        legs += [debit(BOUNDED, 700), credit(rng.choice(HOT), 700)]
    rng.shuffle(legs)  # listed in any order: locks must still be taken in id order
    return TransferRequest(f"hot:{number}", "adjustment", tuple(legs))


def post_numbers(database_url: str, numbers: Sequence[int]) -> dict[str, Any]:
    """Post hot_request(n) for each n, one transaction each, retrying as the database asks."""
    engine = create_engine(database_url, poolclass=NullPool)
    counts = {"posted": 0, "refused": 0}
    with Session(engine) as session:
        for number in numbers:
            request = hot_request(number)
            try:
                retry.run_in_transaction(session, lambda s, r=request: posting.post_transfer(s, r))
                counts["posted"] += 1
            except BalanceRuleViolation:
                counts["refused"] += 1
    engine.dispose()
    return counts


def batch_request(batch: str, number: int) -> TransferRequest:
    """Item `number` of a royalty batch: a station debited, two holders credited."""
    amount = 100 + number
    return TransferRequest(
        f"{batch}:{number}", "royalty",
        (debit("station:joy-fm:wallet", 2 * amount), credit("artist:1:earnings", amount),
         credit("platform:fees", amount)),
    )  # fmt: skip


def post_batch(
    database_url: str,
    batch: str,
    size: int,
    chunk: int,
    stop_after: int | None = None,
    stopped: Any = None,
) -> None:
    """Post a batch in transactions of `chunk` items; with stop_after, stop in the middle of
    the transaction that posts item stop_after, set `stopped`, and wait there to be killed."""
    engine = create_engine(database_url, poolclass=NullPool)
    with Session(engine) as session:
        for start in range(0, size, chunk):
            for number in range(start, min(start + chunk, size)):
                posting.post_transfer(session, batch_request(batch, number))
                if number == stop_after:
                    stopped.set()
                    time.sleep(3600)  # locks held, nothing committed: SIGKILL comes here
            session.commit()
    engine.dispose()
