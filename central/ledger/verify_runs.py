"""Ledger checks kept: run `verify`, keep what it found (when, by whom, through what door) and
audit it, so the overview can say when the ledger was last proven whole. The caller commits."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from central.auth import audit
from central.extensions import utc_now
from central.ledger.audit import Report
from central.ledger.models import VerifyRun
from central.ledger.verify import verify
from central.times import iso_datetime

ACTION = "ledger.verify"
RUNS_LIMIT_MAX = 100


def run_verify(session: Session, actor: str, via: str) -> tuple[VerifyRun, Report]:
    """Check the whole ledger, then keep and audit the run (not committed); the kept run and
    the report."""
    report, duration_ms = check(session)
    return record_run(session, report, duration_ms, actor, via), report


def check(session: Session) -> tuple[Report, int]:
    """verify in a snapshot of its own (an open transaction is rolled back first, and the
    snapshot's after); the report and how long it took, in ms."""
    inner = session() if isinstance(session, scoped_session) else session  # Flask's db.session
    if inner.in_transaction():
        session.rollback()
    started_s = time.perf_counter()
    report = verify(session)
    session.rollback()  # its connection streams results: writes need a fresh one
    return report, round((time.perf_counter() - started_s) * 1000)


def record_run(
    session: Session, report: Report, duration_ms: int, actor: str, via: str
) -> VerifyRun:
    """Keep one verify report with who ran it, and its audit event (not committed)."""
    row = VerifyRun(
        at=utc_now(),
        actor=actor[:120],
        via=via,
        ok=report.ok,
        transfers=report.transfers,
        entries=report.entries,
        accounts=report.accounts,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        problems_json=json.dumps(list(report.problems)),
        problems_omitted=report.problems_omitted,
        duration_ms=duration_ms,
    )
    session.add(row)
    session.flush()
    problems = len(report.problems) + report.problems_omitted
    changes = {"ok": report.ok, "problems": problems, "head_seq": report.head_seq}
    audit.record(session, actor, via, ACTION, "ledger_verify_run", row.id, changes)
    return row


def latest_run(session: Session) -> VerifyRun | None:
    """The most recent verify run, or None if the ledger was never checked."""
    return session.scalar(select(VerifyRun).order_by(VerifyRun.id.desc()).limit(1))


def recent_runs(session: Session, limit: int = 20) -> list[VerifyRun]:
    """The latest verify runs, newest first."""
    limit = max(1, min(limit, RUNS_LIMIT_MAX))
    return list(session.scalars(select(VerifyRun).order_by(VerifyRun.id.desc()).limit(limit)))


def run_record(row: VerifyRun) -> dict[str, Any]:
    """A verify run as JSON."""
    return {
        "id": row.id,
        "at": iso_datetime(row.at),
        "actor": row.actor,
        "via": row.via,
        "ok": row.ok,
        "transfers": row.transfers,
        "entries": row.entries,
        "accounts": row.accounts,
        "head_seq": row.head_seq,
        "head_hash": row.head_hash,
        "problems": json.loads(row.problems_json),
        "problems_omitted": row.problems_omitted,
        "duration_ms": row.duration_ms,
    }
