"""Reconciliation: the ledger's payouts against the provider's statuses, daily and on demand.

For each withdrawal the provider may have heard of (sent, in flight or ended after being sent, in
the last `days`, and every one still in flight), three views must agree: its status here, the
ledger's resolution of its hold (posted, voided, none yet) and the provider's status of its
reference. `mismatch` (pure) names what differs:
- paid_not_posted: the provider paid, the ledger gave the money back (or has not posted it);
- posted_not_paid: the ledger posted it, the provider failed it or never got it;
- ledger_disagrees: status and ledger differ (paid but the hold is voided, ...);
- amount_differs: the provider's amount or currency is not ours;
- behind: the provider has a final answer we have not recorded yet (the next check will);
- stuck_pending: in flight for longer than rules.STUCK_AFTER.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central.extensions import utc_now
from central.ledger.models import Transfer
from central.ledger.transfer import POSTED_FROM_PENDING, VOIDED
from central.payouts import rules
from central.payouts.models import (
    CANCELLED,
    FAILED,
    IN_FLIGHT,
    PAID,
    PENDING,
    REJECTED,
    SENDING,
    ReconcileRun,
    Withdrawal,
)
from central.payouts.provider import FAILED as PROVIDER_FAILED
from central.payouts.provider import SUCCESSFUL, Provider, ProviderError, ProviderTransfer
from central.times import as_utc

DAYS_DEFAULT = 7
RUNS_SHOWN = 20
# What the ledger must show for each status: the hold's resolution.
LEDGER_OF = {PAID: POSTED_FROM_PENDING, FAILED: VOIDED, REJECTED: VOIDED, CANCELLED: VOIDED}


@dataclass(frozen=True)
class Mismatch:
    """One withdrawal whose three views differ."""

    withdrawal_id: int
    kind: str
    status: str
    ledger: str | None
    provider: str | None
    detail: str


def mismatch(
    withdrawal: Withdrawal, ledger: str | None, answer: ProviderTransfer | None, now: datetime
) -> Mismatch | None:
    """What differs between the withdrawal, its hold's resolution and the provider, or None."""
    status = withdrawal.status
    state = None if answer is None else answer.state

    def found(kind: str, detail: str) -> Mismatch:
        return Mismatch(withdrawal.id, kind, status, ledger, state, detail)

    if state == SUCCESSFUL and ledger != POSTED_FROM_PENDING and status not in IN_FLIGHT:
        return found("paid_not_posted", "the provider paid it; the ledger did not post it")
    if ledger == POSTED_FROM_PENDING and state != SUCCESSFUL:
        return found("posted_not_paid", f"the ledger posted it; the provider says {state}")
    if LEDGER_OF.get(status) != ledger:
        return found("ledger_disagrees", f"status {status}, hold {ledger or 'unresolved'}")
    if answer is not None:
        problem = rules.answer_problem(answer, withdrawal.amount_minor, withdrawal.currency)
        if problem:
            return found("amount_differs", problem)
    if status in IN_FLIGHT and state in (SUCCESSFUL, PROVIDER_FAILED):
        return found("behind", f"the provider says {state}; not recorded yet")
    if status in IN_FLIGHT and now - as_utc(withdrawal.created_at) > rules.STUCK_AFTER:
        return found(
            "stuck_pending", f"in flight since {as_utc(withdrawal.created_at):%Y-%m-%d %H:%M}"
        )
    return None


def hold_resolutions(session: Session, hold_ids: list) -> dict:
    """hold transfer id -> the state of the transfer that resolved it (absent: unresolved)."""
    if not hold_ids:
        return {}
    query = select(Transfer.pending_id, Transfer.state).where(Transfer.pending_id.in_(hold_ids))
    return dict(session.execute(query).all())


def candidates(session: Session, since: datetime) -> list[Withdrawal]:
    """Withdrawals the provider may have heard of: in flight, or sent and ended since `since`."""
    sent = Withdrawal.provider.is_not(None)
    query = select(Withdrawal).where(
        or_(
            Withdrawal.status.in_((SENDING, PENDING)),
            sent & (Withdrawal.created_at >= since),
        )
    )
    return list(session.scalars(query.order_by(Withdrawal.id)))


def reconcile(
    session: Session, provider: Provider, actor: str, days: int = DAYS_DEFAULT
) -> ReconcileRun:
    """Compare every candidate with the ledger and the provider; store the run (caller commits)."""
    now = utc_now()
    rows = candidates(session, now - timedelta(days=days))
    ledger = hold_resolutions(session, [w.hold_transfer_id for w in rows if w.hold_transfer_id])
    found: list[Mismatch] = []
    unreachable = 0
    for withdrawal in rows:
        try:
            answer = provider.status(withdrawal.reference)  # type: ignore[arg-type]
        except ProviderError:
            unreachable += 1
            continue
        problem = mismatch(withdrawal, ledger.get(withdrawal.hold_transfer_id), answer, now)
        if problem is not None:
            found.append(problem)
    run = ReconcileRun(
        at=now, actor=actor, checked=len(rows), mismatches=len(found), unreachable=unreachable,
        report_json=json.dumps([asdict(m) for m in found], sort_keys=True),
    )  # fmt: skip
    session.add(run)
    session.flush()
    return run


def runs(session: Session, limit: int = RUNS_SHOWN) -> list[ReconcileRun]:
    """The latest reconciliation runs, newest first."""
    return list(session.scalars(select(ReconcileRun).order_by(ReconcileRun.id.desc()).limit(limit)))


def run_record(run: ReconcileRun) -> dict:
    """A run as JSON-ready data."""
    return {
        "id": run.id,
        "at": as_utc(run.at).isoformat(),
        "actor": run.actor,
        "checked": run.checked,
        "mismatches": run.mismatches,
        "unreachable": run.unreachable,
        "report": json.loads(run.report_json),
    }
