"""Fixtures of the funding tests: stations with wallets of each regime, plays accrued by the
real royalty code at instants of the ledger's clock, and sums read from the ledger directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central import worker
from central.catalog.models import Track
from central.ledger import accounts, posting
from central.ledger.models import Account, Entry, Transfer
from central.ledger.transfer import MONEY_STATES
from central.ledger.verify import verify
from central.royalties import jobs
from central.royalties.accrual import station_account
from central.stations.models import Station
from central.times import ms_of
from tests.integration.central import rows
from tests.integration.central.auth.conftest import call, people  # noqa: F401 - API fixtures
from tests.integration.central.console.conftest import (  # noqa: F401 - console fixtures
    console_client,
    console_people,
)

TARIFF = "broadcast"


@pytest.fixture(autouse=True)
def _inline_jobs() -> Iterator[None]:
    """Jobs an inline queue runs use the test's app; forgotten after the test."""
    yield
    worker.use_app(None)


def add_station(
    session: Session, code: str, wallet: str | None = None, timezone: str = "Africa/Accra"
) -> Station:
    """A station; its wallet opened "prepaid" (floor 0), with a credit limit ("limit:N"), or
    not at all (None: royalties open it with no floor, postpaid)."""
    station = rows.add_station(session, code)
    station.timezone = timezone
    code_ = station_account(code)
    if wallet == "prepaid":
        accounts.open_account(session, accounts.account_spec(code_, "station_wallet"))
    elif wallet is not None:
        limit = int(wallet.removeprefix("limit:"))
        spec = accounts.account_spec(code_, "station_wallet", credit_limit_minor=limit)
        accounts.open_account(session, spec)
    session.flush()
    return station


def accrue_at(
    session: Session, monkeypatch: pytest.MonkeyPatch, station: Station, track: Track,
    moment: datetime, minutes: int = 3,
) -> int:  # fmt: skip
    """A closed play of the track (3 minutes long) ending at `moment`, accrued with the
    ledger's clock at `moment` (its transfer is created then); its play id."""
    duration_ms = minutes * rows.MINUTE_MS
    play = rows.add_play(session, station, track, ms_of(moment) - duration_ms, duration_ms)
    play_id = play.id
    session.commit()
    with monkeypatch.context() as patch:
        patch.setattr(posting, "utc_now", lambda: moment)
        jobs.accrue_play(session, play_id, TARIFF, "test")
        session.commit()
    return play_id


def wallet_movement(session: Session, code: str, since: datetime, until: datetime) -> int:
    """The account's posted movement (credits - debits) over the transfers created in [since,
    until), summed from its entries by created_at (not by seq, as the invoice reads it)."""
    found = session.execute(
        select(Entry.side, func.sum(Entry.amount_minor))
        .join(Transfer, Transfer.seq == Entry.transfer_seq)
        .join(Account, Account.id == Entry.account_id)
        .where(Account.code == code, Transfer.state.in_(MONEY_STATES),
               Transfer.created_at >= since, Transfer.created_at < until)
        .group_by(Entry.side)
    ).all()  # fmt: skip
    totals = {side: int(total) for side, total in found}
    return totals.get("credit", 0) - totals.get("debit", 0)


def play_debit(session: Session, play_id: int) -> int:
    """What the play's royalty transfer debited its station's wallet."""
    found = session.scalar(
        select(Entry.amount_minor)
        .join(Transfer, Transfer.seq == Entry.transfer_seq)
        .where(Transfer.idempotency_key == f"royalty:play:{play_id}", Entry.side == "debit")
    )
    assert found, f"play {play_id} debited nothing"
    return int(found)


def assert_ledger_ok(session: Session) -> None:
    """`zamio ledger verify` finds no problem."""
    session.rollback()
    report = verify(session)
    session.rollback()
    assert report.ok, report.problems
