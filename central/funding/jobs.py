"""RQ jobs of station funding: fund_station(station_id), enqueued after a top-up, pays the
station's unfunded royalties; issue_monthly_invoices(), scheduled, issues last month's invoice
of every postpaid station once its local month is over. Both can run twice with no second
effect: an accrual is posted once (royalties/jobs.py locks its play), an invoice is issued once
per station and month."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.extensions import db
from central.funding import invoices, rules
from central.funding.errors import FundingError
from central.ledger.errors import LedgerError
from central.ledger.retry import run_in_transaction
from central.plays.models import Play
from central.royalties.errors import RoyaltyError
from central.royalties.jobs import ACCRUE_PENDING_LIMIT, BatchRun, accrue_play, new_batch_id
from central.royalties.models import UNFUNDED, RoyaltyAccrual
from central.times import now_ms
from central.worker import worker_app

logger = logging.getLogger(__name__)

SCHEDULER = "scheduler"  # issued_by of the invoices the schedule issues
SCHEDULER_VIA = "job"


def fund_station(station_id: int) -> dict[str, Any]:
    """RQ job: pay the station's unfunded royalties, oldest first, as far as its wallet allows."""
    app = worker_app()
    with app.app_context():
        run = pay_unfunded(db.session, station_id, app.config["ZAMIO"].royalty_tariff_code)
    logger.info("station %d: funding batch %s: %s", station_id, run.batch_id, run.states)
    return run.as_dict()


def unfunded_plays(session: Session, station_id: int, limit: int) -> list[int]:
    """The station's plays whose accrual is unfunded, oldest first."""
    return list(
        session.scalars(
            select(RoyaltyAccrual.play_id)
            .join(Play, Play.id == RoyaltyAccrual.play_id)
            .where(RoyaltyAccrual.state == UNFUNDED, Play.station_id == station_id)
            .order_by(RoyaltyAccrual.play_id)
            .limit(limit)
        )
    )


def pay_unfunded(
    session: Session, station_id: int, tariff_code: str, limit: int = ACCRUE_PENDING_LIMIT
) -> BatchRun:
    """Accrue the station's unfunded plays again, one transaction each (accrue_play, as
    accrue_pending does), oldest first, stopping at the first the wallet still cannot pay: its
    funds go to the oldest debts first."""
    batch_id = new_batch_id()
    play_ids = unfunded_plays(session, station_id, limit)
    session.commit()  # end the read: each play gets its own transaction
    states: Counter[str] = Counter()
    tried = []
    for play_id in play_ids:
        tried.append(play_id)
        try:
            state = run_in_transaction(
                session, lambda s, p=play_id: accrue_play(s, p, tariff_code, batch_id).state
            )
        except (RoyaltyError, LedgerError) as error:
            logger.warning("play %s: not accrued: %s", play_id, error)
            states["failed"] += 1
            continue
        states[state] += 1
        if state == UNFUNDED:
            break
    return BatchRun(batch_id, tuple(tried), dict(states))


def issue_monthly_invoices() -> dict[str, Any]:
    """RQ job (scheduled): last month's invoice of every postpaid station that has none yet."""
    app = worker_app()
    with app.app_context():
        return issue_last_month(db.session, app.config["ZAMIO"].funding_invoice_due_days, now_ms())


def issue_last_month(session: Session, due_days: int, at_ms: int) -> dict[str, Any]:
    """Issue each postpaid station's invoice of the local month before `at_ms`, one transaction
    each; counts of those issued, issued before, and refused."""
    stations = [(s.code, rules.previous_month(at_ms, s.timezone), s.id) for s in
                invoices.postpaid_stations(session)]  # fmt: skip
    missing = [(code, month) for code, month, sid in stations
               if invoices.station_invoice(session, sid, month) is None]  # fmt: skip
    session.commit()
    counts: Counter[str] = Counter(existing=len(stations) - len(missing))
    for code, month in missing:
        try:
            issued = run_in_transaction(
                session,
                lambda s, c=code, m=month: (
                    invoices.issue_invoice(
                        s, c, m, SCHEDULER, SCHEDULER_VIA, due_days, at_ms
                    ).created
                ),
            )
        except FundingError as error:
            logger.warning("station %s: %s not invoiced: %s", code, month, error)
            counts["refused"] += 1
            continue
        counts["issued" if issued else "existing"] += 1
    return dict(counts)
