"""The operator's overview: stations monitored, agents by state, streams down or in dead air
now, plays and royalties today, quarantined payloads, the job queue and the last ledger check.

`summarise` is pure (facts in, a JSON-ready dict out, `now_ms` passed in); `load_facts` does the
reading, one bounded query per fact; `overview` is both, for the API and the console alike."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from central import queues
from central.ingest.models import QuarantinedPayload
from central.ledger import verify_runs
from central.monitoring.models import DeviceEvent, DeviceStatus
from central.monitoring.state import NEVER_SEEN, STALE, Seen, device_state
from central.monitoring.store import seen
from central.plays.models import Play
from central.royalties.models import PAID_STATES, RoyaltyAccrual
from central.stations.models import Device, Station
from central.times import as_utc, at_ms, iso_utc, ms_of

DAY_MS = 86_400_000
QUARANTINE_RECENT = timedelta(hours=24)
AGENT_STATES = ("online", "offline", STALE, NEVER_SEEN)
DOWN, DEAD_AIR = "down", "dead_air"
STREAM_KINDS = ("stream_up", "stream_down", "source_ended", "source_stopped")
DEAD_AIR_KINDS = ("dead_air", "dead_air_end")
CONDITIONS_SHOWN_MAX = 50  # streams listed by name; the counts cover all of them
# A source's condition is judged from its device's newest events of these kinds: an agent
# raises two to four per outage, so 50 cover every source of a device but one that has been
# silent through a dozen of its siblings' outages. Bounded so a year of events costs ~10 ms.
EVENTS_SCANNED = 50


@dataclass(frozen=True)
class SourceEvents:
    """A device's source: when each kind of stream or dead-air event last happened."""

    station: str
    device: str
    source_id: str
    latest_ms: dict[str, int]  # kind -> at_ms of its latest event


@dataclass(frozen=True)
class QueueFacts:
    """The job queue as read: depth, the oldest waiting job's enqueue time, failed jobs."""

    inline: bool  # the embedded queue runs each job as it is enqueued: nothing waits
    depth: int | None = None
    oldest_enqueued_ms: int | None = None
    failed: int | None = None
    error: str | None = None  # Redis could not be read


@dataclass(frozen=True)
class Facts:
    """What the overview is computed from, read at one moment."""

    now_ms: int
    stations: int
    stations_monitored: int  # with at least one active device
    agents: list[Seen | None]  # one per active device
    sources: list[SourceEvents]
    plays_today: int
    royalties_today_minor: dict[str, int]  # currency -> paid accruals made today
    quarantined: int
    quarantined_recent: int
    queue: QueueFacts
    last_verify: dict[str, Any] | None = field(default=None)


def source_condition(latest_ms: dict[str, int]) -> str | None:
    """`down` when the source's latest stream event is stream_down; `dead_air` when it is up
    and its latest dead-air event starts dead air; None otherwise. Pure."""
    stream = max(STREAM_KINDS, key=lambda k: latest_ms.get(k, -1))
    if latest_ms.get(stream) is not None and stream == "stream_down":
        return DOWN
    dead, end = latest_ms.get("dead_air"), latest_ms.get("dead_air_end", -1)
    ended = max(end, *(latest_ms.get(k, -1) for k in ("source_ended", "source_stopped")))
    if dead is not None and dead > ended:
        return DEAD_AIR
    return None


def summarise(facts: Facts) -> dict[str, Any]:
    """The overview as JSON-ready values. Pure."""
    agents = Counter(device_state(s, facts.now_ms) for s in facts.agents)
    conditions = []
    for source in facts.sources:
        condition = source_condition(source.latest_ms)
        if condition is not None:
            since_kind = "stream_down" if condition == DOWN else "dead_air"
            since_ms = source.latest_ms[since_kind]
            conditions.append((since_ms, source, condition))
    conditions.sort(key=lambda c: (c[0], c[1].station, c[1].device, c[1].source_id))
    counts = Counter(c for _, _, c in conditions)
    return {
        "at": iso_utc(facts.now_ms),
        "stations": facts.stations,
        "stations_monitored": facts.stations_monitored,
        "agents": {state: agents.get(state, 0) for state in AGENT_STATES},
        "streams_down": counts.get(DOWN, 0),
        "streams_dead_air": counts.get(DEAD_AIR, 0),
        "stream_conditions": [
            {
                "station": s.station,
                "device": s.device,
                "source_id": s.source_id,
                "condition": condition,
                "since": iso_utc(since_ms),
                "for_s": max(0, facts.now_ms - since_ms) // 1000,
            }
            for since_ms, s, condition in conditions[:CONDITIONS_SHOWN_MAX]
        ],
        "plays_today": facts.plays_today,
        "royalties_today": [
            {"currency": c, "amount_minor": m}
            for c, m in sorted(facts.royalties_today_minor.items())
        ],
        "quarantined": facts.quarantined,
        "quarantined_24h": facts.quarantined_recent,
        "queue": _queue(facts.queue, facts.now_ms),
        "last_verify": facts.last_verify,
    }


def _queue(queue: QueueFacts, now_ms: int) -> dict[str, Any]:
    """The queue's part of the overview."""
    oldest = queue.oldest_enqueued_ms
    return {
        "inline": queue.inline,
        "available": queue.error is None,
        "error": queue.error,
        "depth": queue.depth,
        "failed": queue.failed,
        "oldest_job_age_s": None if oldest is None else max(0, now_ms - oldest) // 1000,
    }


def overview(session: Session, queue: Queue, now: datetime) -> dict[str, Any]:
    """The overview now: read the facts, summarise them."""
    return summarise(load_facts(session, queue, now))


def load_facts(session: Session, queue: Queue, now: datetime) -> Facts:
    """Read every fact of the overview at `now`."""
    now_ms = ms_of(now)
    day_ms = now_ms - now_ms % DAY_MS
    active = select(Device.id).where(Device.active.is_(True))
    monitored = select(func.count(func.distinct(Device.station_id))).where(Device.active.is_(True))
    rows = session.execute(
        select(Device.id, DeviceStatus).outerjoin(DeviceStatus).where(Device.active.is_(True))
    ).all()
    recent = now - QUARANTINE_RECENT
    latest = verify_runs.latest_run(session)
    return Facts(
        now_ms=now_ms,
        stations=int(session.scalar(select(func.count()).select_from(Station)) or 0),
        stations_monitored=int(session.scalar(monitored) or 0),
        agents=[seen(row) for _, row in rows],
        sources=_sources(session, active),
        plays_today=_plays_today(session, day_ms),
        royalties_today_minor=_royalties_today(session, at_ms(day_ms)),
        quarantined=int(session.scalar(select(func.count(QuarantinedPayload.id))) or 0),
        quarantined_recent=int(
            session.scalar(
                select(func.count(QuarantinedPayload.id)).where(
                    QuarantinedPayload.received_at >= recent
                )
            )
            or 0
        ),
        queue=queue_facts(queue),
        last_verify=None if latest is None else verify_runs.run_record(latest),
    )


def source_events(session: Session) -> list[SourceEvents]:
    """Each active device's sources with the time of their latest stream and dead-air events
    (what the overview judges streams by; notifications' health watch too)."""
    return _sources(session, select(Device.id).where(Device.active.is_(True)))


def _sources(session: Session, active: Any) -> list[SourceEvents]:
    """Each active device's sources with the time of their latest stream and dead-air events,
    among the device's newest EVENTS_SCANNED such events."""
    found: dict[tuple[int, str], dict[str, int]] = {}
    for device_id, source_id, kind, event_ms in session.execute(_newest_events(session, active)):
        latest = found.setdefault((device_id, source_id), {})
        latest[kind] = max(int(event_ms), latest.get(kind, -1))
    if not found:
        return []
    names = dict(
        (row.id, (row.station, row.device))
        for row in session.execute(
            select(Device.id, Station.code.label("station"), Device.code.label("device"))
            .join(Station, Station.id == Device.station_id)
            .where(Device.id.in_({d for d, _ in found}))
        )
    )
    return [
        SourceEvents(*names[device_id], source_id, latest)
        for (device_id, source_id), latest in sorted(found.items())
    ]


def _newest_events(session: Session, active: Any) -> Any:
    """(device_id, source_id, kind, at_ms) of each active device's newest EVENTS_SCANNED stream
    and dead-air events. A year of events is millions of rows: PostgreSQL walks each device's
    (device_id, at_ms) index backwards (LATERAL); SQLite, small, numbers them in a window."""
    kinds = STREAM_KINDS + DEAD_AIR_KINDS
    columns = (DeviceEvent.device_id, DeviceEvent.source_id, DeviceEvent.kind, DeviceEvent.at_ms)
    if session.get_bind().dialect.name == "postgresql":
        device = select(Device.id).where(Device.active.is_(True)).subquery("d")
        newest = (
            select(*columns)
            .where(DeviceEvent.device_id == device.c.id, DeviceEvent.kind.in_(kinds))
            .order_by(DeviceEvent.at_ms.desc())
            .limit(EVENTS_SCANNED)
            .lateral("e")
        )
        return select(newest).select_from(device).join(newest, true())
    rank = func.row_number().over(
        partition_by=DeviceEvent.device_id, order_by=DeviceEvent.at_ms.desc()
    )
    ranked = (
        select(*columns, rank.label("rank"))
        .where(DeviceEvent.device_id.in_(active), DeviceEvent.kind.in_(kinds))
        .subquery()
    )
    return select(ranked.c.device_id, ranked.c.source_id, ranked.c.kind, ranked.c.at_ms).where(
        ranked.c.rank <= EVENTS_SCANNED
    )


def _plays_today(session: Session, day_ms: int) -> int:
    """Plays that started since today's UTC midnight."""
    query = select(func.count(Play.id)).where(
        Play.start_ms >= day_ms, Play.start_ms < day_ms + DAY_MS
    )
    return int(session.scalar(query) or 0)


def _royalties_today(session: Session, since: datetime) -> dict[str, int]:
    """What was accrued since `since` (today's UTC midnight) and paid out (posted or
    released), by currency: by the accrual's time, on its index, not by joining today's plays."""
    query = (
        select(RoyaltyAccrual.currency, func.sum(RoyaltyAccrual.amount_minor))
        .where(RoyaltyAccrual.created_at >= since)
        .where(RoyaltyAccrual.state.in_(PAID_STATES))
        .group_by(RoyaltyAccrual.currency)
    )
    return {currency: int(total or 0) for currency, total in session.execute(query)}


def queue_facts(queue: Queue) -> QueueFacts:
    """The queue's depth, its oldest waiting job and its failed jobs; Redis down: why."""
    if not queue.is_async:
        return QueueFacts(inline=True, depth=queue.count, failed=queue.failed_job_registry.count)
    try:
        depth = queue.count
        return QueueFacts(False, depth, _oldest_ms(queue), queue.failed_job_registry.count)
    except queues.REDIS_DOWN as error:
        return QueueFacts(inline=False, error=f"redis unavailable: {error}"[:200])


def _oldest_ms(queue: Queue) -> int | None:
    """When the job at the head of the queue was enqueued (None: no job waits)."""
    first = queue.get_job_ids(0, 1)
    if not first:
        return None
    try:
        job = Job.fetch(first[0], connection=queue.connection)
    except NoSuchJobError:  # taken by a worker between the two reads
        return None
    return None if job.enqueued_at is None else ms_of(as_utc(job.enqueued_at))
