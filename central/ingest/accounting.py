"""Seq accounting on the database: each source's progress and gaps, updated in the transaction
that stores the batch; due gaps claimed and turned into resend commands. The caller commits.

A source's rows change only under a lock on its source_progress row, so two listeners storing
batches of one source take turns. The requester claims due gaps with FOR UPDATE SKIP LOCKED, so
several listeners never ask for one gap twice (SQLite ignores the clause: one process there).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.ingest import gaps
from central.ingest.gaps import LOST, MISSING, OPEN_STATES, RECOVERED, REQUESTED, Range
from central.ingest.models import SeqGap, SourceProgress
from central.stations.models import Device, Station
from central.times import at_ms, iso_datetime

logger = logging.getLogger(__name__)

GAP_GRACE_S = 60.0  # a gap younger than this may be the backlog draining out of order
RESEND_INTERVAL_S = 60.0  # first wait between two requests of a gap; it doubles
RESEND_TRIES_MAX = 5  # a gap still missing after this many requests is lost
CLAIM_GAPS_MAX = 100  # gaps claimed per requester round


@dataclass(frozen=True)
class Policy:
    """When gaps are asked for, how often, and when given up."""

    grace_s: float = GAP_GRACE_S
    interval_s: float = RESEND_INTERVAL_S
    tries_max: int = RESEND_TRIES_MAX


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Request:
    """One resend command to publish."""

    topic: str
    payload: bytes


def _progress(session: Session, device_pk: int, source_id: str) -> SourceProgress | None:
    """The source's progress row, locked for this transaction."""
    query = select(SourceProgress).where(
        SourceProgress.device_id == device_pk, SourceProgress.source_id == source_id
    )
    return session.scalar(query.with_for_update().execution_options(populate_existing=True))


def _locked_progress(
    session: Session, device_pk: int, source_id: str, seq: int, now_ms: int
) -> tuple[SourceProgress, bool]:
    """The source's progress row, locked; created at `seq` if new (True then)."""
    row = _progress(session, device_pk, source_id)
    if row is not None:
        return row, False
    row = SourceProgress(
        device_id=device_pk, source_id=source_id, seq_first=seq, seq_max=seq, batches_count=0
    )
    row.updated_at = at_ms(now_ms)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another listener created it meanwhile: take its row
        return _locked_progress(session, device_pk, source_id, seq, now_ms)
    return row, True


def account_batch(
    session: Session, device_pk: int, source_id: str, seq: int, now_ms: int, policy: Policy
) -> None:
    """A batch of `seq` was stored: move the source's high-water mark, open or fill gaps."""
    row, new = _locked_progress(session, device_pk, source_id, seq, now_ms)
    row.batches_count += 1
    row.updated_at = at_ms(now_ms)
    step = gaps.advance(None if new else row.seq_max, seq)
    if not new and seq < row.seq_first:
        row.seq_first = seq
    row.seq_max = step.seq_max
    if step.opened is not None:
        _open(session, device_pk, source_id, step.opened, now_ms, policy)
    elif not new:
        _fill(session, device_pk, source_id, (seq, seq), now_ms)


def account_seq_last(
    session: Session, device_pk: int, source_id: str, seq_last: int, now_ms: int, policy: Policy
) -> None:
    """The source said its last seq: any seq up to it not seen is a real gap."""
    row, new = _locked_progress(session, device_pk, source_id, seq_last, now_ms)
    row.seq_last = seq_last
    if new:  # nothing seen of it yet: every batch up to seq_last is still to come
        opened = (0, seq_last) if seq_last < gaps.FIRST_GAP_SEQS_MAX else None
        row.seq_first = 0 if opened else seq_last
    else:
        opened = (row.seq_max + 1, seq_last) if seq_last > row.seq_max else None
        row.seq_max = max(row.seq_max, seq_last)
    if opened is not None:
        _open(session, device_pk, source_id, opened, now_ms, policy)


def _open(
    session: Session, device_pk: int, source_id: str, seqs: Range, now_ms: int, policy: Policy
) -> None:
    """A new missing gap, first asked for after the grace."""
    session.add(
        SeqGap(
            device_id=device_pk,
            source_id=source_id,
            seq_from=seqs[0],
            seq_to=seqs[1],
            state=MISSING,
            first_seen_at=at_ms(now_ms),
            next_request_ms=now_ms + int(policy.grace_s * 1000),
            request_count=0,
            recovered_count=0,
        )
    )


def _overlapping(
    session: Session, device_pk: int, source_id: str, seqs: Range, states: tuple[str, ...]
) -> list[SeqGap]:
    """The source's gaps in `states` that overlap `seqs`, locked."""
    query = select(SeqGap).where(
        SeqGap.device_id == device_pk,
        SeqGap.source_id == source_id,
        SeqGap.state.in_(states),
        SeqGap.seq_from <= seqs[1],
        SeqGap.seq_to >= seqs[0],
    )
    return list(session.scalars(query.with_for_update()))


def _fill(session: Session, device_pk: int, source_id: str, seqs: Range, now_ms: int) -> None:
    """`seqs` arrived: each gap they touch shrinks, splits, or is recovered."""
    for gap in _overlapping(session, device_pk, source_id, seqs, (*OPEN_STATES, LOST)):
        _split(session, gap, seqs, RECOVERED, None, now_ms)


def _split(
    session: Session, gap: SeqGap, seqs: Range, state: str, reason: str | None, now_ms: int
) -> None:
    """The part of `gap` inside `seqs` arrived (RECOVERED: the gap keeps what is left, one row
    per hole) or is LOST (a row of its own); the rest keeps the old state."""
    rest, inside = gaps.cut((gap.seq_from, gap.seq_to), seqs)
    if inside is None:
        return
    if state == RECOVERED:
        gap.recovered_count += gaps.seq_count(inside)
        if rest:
            gap.seq_from, gap.seq_to = rest[0]
            for part in rest[1:]:
                session.add(_copy(gap, part))
            return
    else:
        for part in rest:
            session.add(_copy(gap, part))
    gap.seq_from, gap.seq_to = inside
    if state == LOST and gap.state != LOST:
        logger.error(
            "ingest: device %s source %s: seqs %d..%d lost (%s)",
            session.get(Device, gap.device_id).code,
            gap.source_id,
            inside[0],
            inside[1],
            reason,
        )
    gap.state, gap.lost_reason = state, reason
    gap.resolved_at = at_ms(now_ms)


def _copy(gap: SeqGap, seqs: Range) -> SeqGap:
    """A gap like `gap` (state, requests) over other seqs."""
    return SeqGap(
        device_id=gap.device_id,
        source_id=gap.source_id,
        seq_from=seqs[0],
        seq_to=seqs[1],
        state=gap.state,
        first_seen_at=gap.first_seen_at,
        next_request_ms=gap.next_request_ms,
        requested_at=gap.requested_at,
        request_count=gap.request_count,
        recovered_count=0,
        lost_reason=gap.lost_reason,
        resolved_at=gap.resolved_at,
    )


def mark_unavailable(
    session: Session, device_pk: int, source_id: str, ranges: list[Range], now_ms: int
) -> None:
    """The device cannot resend these seqs: their part of every open gap is lost."""
    if _progress(session, device_pk, source_id) is None:
        return  # never seen: nothing was asked for
    for seqs in ranges:
        for gap in _overlapping(session, device_pk, source_id, seqs, OPEN_STATES):
            _split(session, gap, seqs, LOST, "unavailable", now_ms)


def claim_due(session: Session, now_ms: int, policy: Policy) -> list[Request]:
    """The resend commands of every due open gap, each gap's next request scheduled; gaps asked
    for tries_max times already are lost instead."""
    query = (
        select(SeqGap, Device.code, Station.code)
        .join(Device, Device.id == SeqGap.device_id)
        .join(Station, Station.id == Device.station_id)
        .where(SeqGap.state.in_(OPEN_STATES), SeqGap.next_request_ms <= now_ms)
        .order_by(SeqGap.next_request_ms)
        .limit(CLAIM_GAPS_MAX)
        .with_for_update(skip_locked=True, of=SeqGap)
    )
    requests = []
    for gap, device_code, station_code in session.execute(query):
        if gap.request_count >= policy.tries_max:
            _split(session, gap, (gap.seq_from, gap.seq_to), LOST, "no_answer", now_ms)
            continue
        gap.request_count += 1
        gap.state, gap.requested_at = REQUESTED, at_ms(now_ms)
        delay_s = gaps.request_delay_s(gap.request_count, policy.interval_s)
        gap.next_request_ms = now_ms + int(delay_s * 1000)
        topic = gaps.command_topic(station_code, device_code)
        for seqs in gaps.chunks((gap.seq_from, gap.seq_to)):
            payload = gaps.resend_command(uuid.uuid4().hex, gap.source_id, seqs)
            requests.append(Request(topic, payload))
    return requests


def gap_records(
    session: Session, states: tuple[str, ...] = (), limit: int = 1000
) -> list[dict[str, Any]]:
    """Gaps (of `states`, or all), newest first, as plain values."""
    query = (
        select(SeqGap, Device.code, Station.code)
        .join(Device, Device.id == SeqGap.device_id)
        .join(Station, Station.id == Device.station_id)
        .order_by(SeqGap.first_seen_at.desc(), SeqGap.id.desc())
        .limit(limit)
    )
    if states:
        query = query.where(SeqGap.state.in_(states))
    return [
        {
            "station": station,
            "device": device,
            "source_id": gap.source_id,
            "seq_from": gap.seq_from,
            "seq_to": gap.seq_to,
            "seqs": gaps.seq_count((gap.seq_from, gap.seq_to)),
            "state": gap.state,
            "first_seen_at": iso_datetime(gap.first_seen_at),
            "requested_at": iso_datetime(gap.requested_at),
            "request_count": gap.request_count,
            "recovered_count": gap.recovered_count,
            "lost_reason": gap.lost_reason,
            "resolved_at": iso_datetime(gap.resolved_at),
        }
        for gap, device, station in session.execute(query)
    ]


def gap_counts(session: Session, device_pk: int) -> dict[str, dict[str, int]]:
    """A device's gaps by state and their seqs: {"missing": {"gaps": n, "seqs": m}, ...};
    recovered counts every seq that arrived after its gap opened."""
    return gap_counts_of(session, [device_pk])[device_pk]


def gap_counts_of(
    session: Session, device_pks: Iterable[int] | None = None
) -> dict[int, dict[str, dict[str, int]]]:
    """gap_counts of each device of `device_pks` (None: every device with gaps) in one query;
    a device without gaps has every count 0."""
    seqs = func.sum(SeqGap.seq_to - SeqGap.seq_from + 1)
    query = select(
        SeqGap.device_id, SeqGap.state, func.count(), seqs, func.sum(SeqGap.recovered_count)
    ).group_by(SeqGap.device_id, SeqGap.state)
    wanted = None if device_pks is None else list(device_pks)
    if wanted is not None:
        query = query.where(SeqGap.device_id.in_(wanted))
    found: dict[int, dict[str, dict[str, int]]] = {}
    recovered: dict[int, int] = {}
    for pk in wanted or ():
        found[pk] = {state: {"gaps": 0, "seqs": 0} for state in gaps.STATES}
    for device_pk, state, gap_count, seq_total, recovered_total in session.execute(query):
        counts = found.setdefault(device_pk, {s: {"gaps": 0, "seqs": 0} for s in gaps.STATES})
        counts[state] = {"gaps": gap_count, "seqs": int(seq_total or 0)}
        recovered[device_pk] = recovered.get(device_pk, 0) + int(recovered_total or 0)
    for device_pk, counts in found.items():
        counts[RECOVERED]["seqs"] = recovered.get(device_pk, 0)
    return found
