"""RQ job update_plays(station_id): the station's newly matched batches become plays, and each
play it closes is chained to accrue_royalty(play_id).

Under a lock on the station row (two workers never rebuild one station's plays at once), the
job takes the batches matched since its last run, recomputes every component (timeline.py) of
each track they detected, and of the tracks sharing its recording (catalogue near-duplicate
links), from all stored detections, keeps one play per airing of a recording
(same_recording.py), reconciles the result with the stored plays, and closes the plays no
later batch can change. Running it twice changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from central import queues
from central.catalog import near_duplicates
from central.extensions import db
from central.ingest.models import IngestedBatch
from central.matching.index import TrackRef
from central.matching.jobs import current_index
from central.matching.models import Detection
from central.monitoring.health import STOP_KINDS
from central.monitoring.models import DeviceEvent
from central.plays import same_recording, timeline
from central.plays.models import Play
from central.stations.models import Station
from central.times import as_utc, ms_of
from central.worker import worker_app, worker_queue
from edge_agent.fingerprint import FRAME_MS

logger = logging.getLogger(__name__)

WINDOW_MS_MAX = 20_000  # no batch window or detection is longer: bounds range queries
EDGE_MS_MAX = 10_000  # how far a play's edges may reach beyond its detections
IDS_PER_STATEMENT_MAX = 1000
RESTART_GRACE_MS = 60_000  # a stopped source's plays wait this long for the agent to come back


def update_plays(station_id: int) -> list[int]:
    """Build and close the station's plays; return the ids of plays closed by this run."""
    app = worker_app()
    settings = app.config["ZAMIO"]
    queue = worker_queue()
    queues.release_update_plays(queue.connection, station_id, settings.plays_build_interval_s)
    with app.app_context():
        wait_s = settings.plays_close_wait_s
        closed = update_station_plays(db.session, station_id, datetime.now(UTC), wait_s)
        db.session.commit()
    for play_id in closed:  # after the commit: the next job must see the closed play
        queues.enqueue_accrue_royalty(queue, play_id)
    return closed


def update_station_plays(
    session: Session, station_id: int, now: datetime, close_wait_s: int
) -> list[int]:
    """The job's work inside a session (the caller commits)."""
    session.execute(select(Station.id).where(Station.id == station_id).with_for_update())
    pending = session.scalars(
        select(IngestedBatch.id).where(
            IngestedBatch.station_id == station_id,
            IngestedBatch.plays_at.is_(None),
            IngestedBatch.matched_at.is_not(None),
        )
    ).all()
    tracks = {t.track_id: t for t in current_index(session).tracks}
    classes = same_recording.recording_classes(near_duplicates.linked_pairs(session))
    for members, lo_ms, hi_ms in _touched_recordings(_touched(session, pending), classes):
        refs = [tracks[t] for t in sorted(members) if t in tracks]
        if refs:
            _rebuild(session, station_id, refs, tracks, lo_ms, hi_ms, now)
    for chunk in _chunks(pending):
        session.execute(
            update(IngestedBatch).where(IngestedBatch.id.in_(chunk)).values(plays_at=now)
        )
    session.flush()
    return close_final_plays(session, station_id, now, close_wait_s)


def _touched(session: Session, batch_ids: Sequence[int]) -> list[tuple[int, int, int]]:
    """(track, first start, last end) of the detections in `batch_ids`."""
    spans: dict[int, tuple[int, int]] = {}
    for chunk in _chunks(batch_ids):
        rows = session.execute(
            select(Detection.track_id, func.min(Detection.start_ms), func.max(Detection.end_ms))
            .where(Detection.ingested_batch_id.in_(chunk))
            .group_by(Detection.track_id)
        )
        for track_id, lo_ms, hi_ms in rows:
            old = spans.get(track_id, (lo_ms, hi_ms))
            spans[track_id] = (min(old[0], lo_ms), max(old[1], hi_ms))
    return [(t, lo, hi) for t, (lo, hi) in sorted(spans.items())]


def _touched_recordings(
    touched: Sequence[tuple[int, int, int]], classes: dict[int, frozenset[int]]
) -> list[tuple[frozenset[int], int, int]]:
    """The touched tracks joined with the tracks of the same recording, spans merged."""
    spans: dict[frozenset[int], tuple[int, int]] = {}
    for track_id, lo_ms, hi_ms in touched:
        members = classes.get(track_id, frozenset({track_id}))
        old = spans.get(members, (lo_ms, hi_ms))
        spans[members] = (min(old[0], lo_ms), max(old[1], hi_ms))
    return [(m, lo, hi) for m, (lo, hi) in sorted(spans.items(), key=lambda i: min(i[0]))]


def _rebuild(
    session: Session,
    station_id: int,
    members: Sequence[TrackRef],
    tracks: dict[int, TrackRef],
    lo_ms: int,
    hi_ms: int,
    now: datetime,
) -> None:
    """Recompute the plays of every component of the tracks of one recording (`members`) that
    reaches into [lo_ms, hi_ms], keep one play per airing, and reconcile each track's plays."""
    found = _closed_span(session, station_id, [t.track_id for t in members], lo_ms, hi_ms)
    fresh = [
        play
        for track in members
        for component in timeline.components(found[track.track_id])
        for play in timeline.component_plays(component, track)
    ]
    detections = [d for ds in found.values() for d in ds]
    if not detections:
        return
    first_ms = min(d.start_ms for d in detections) - EDGE_MS_MAX
    last_ms = max(d.end_ms for d in detections) + EDGE_MS_MAX
    stored = session.scalars(
        select(Play).where(
            Play.station_id == station_id,
            Play.track_id.in_([t.track_id for t in members]),
            Play.start_ms < last_ms,
            Play.end_ms > first_ms,
        )
    ).all()
    closed = [
        same_recording.ClosedSpan(p.track_id, p.start_ms, p.end_ms)
        for p in stored
        if p.closed_at is not None
    ]
    kept = same_recording.one_per_airing(fresh, closed, tracks)
    for track in members:
        mine = [p for p in stored if p.track_id == track.track_id]
        plan = timeline.reconcile([p for p in kept if p.track_id == track.track_id], _shapes(mine))
        _apply(session, station_id, mine, plan, now)


def _closed_span(
    session: Session, station_id: int, track_ids: Sequence[int], lo_ms: int, hi_ms: int
) -> dict[int, list[timeline.StoredDetection]]:
    """The tracks' detections around [lo_ms, hi_ms], widened until no component is cut off."""
    while True:
        found = {
            t: _detections(
                session, station_id, t, lo_ms - timeline.REACH_MS, hi_ms + timeline.REACH_MS
            )
            for t in track_ids
        }
        every = [d for ds in found.values() for d in ds]
        wider_lo = min([d.start_ms for d in every] + [lo_ms])
        wider_hi = max([d.end_ms for d in every] + [hi_ms])
        if (wider_lo, wider_hi) == (lo_ms, hi_ms):
            return found
        lo_ms, hi_ms = wider_lo, wider_hi


def _detections(
    session: Session, station_id: int, track_id: int, from_ms: int, to_ms: int
) -> list[timeline.StoredDetection]:
    """The track's detections at the station overlapping [from_ms, to_ms]."""
    rows = session.scalars(
        select(Detection).where(
            Detection.station_id == station_id,
            Detection.track_id == track_id,
            Detection.start_ms >= from_ms - WINDOW_MS_MAX,
            Detection.start_ms <= to_ms,
            Detection.end_ms >= from_ms,
        )
    )
    return [
        timeline.StoredDetection(
            track_id=d.track_id,
            start_ms=d.start_ms,
            end_ms=d.end_ms,
            query_first_frame=d.query_first_frame,
            query_last_frame=d.query_last_frame,
            inliers=d.inliers,
            query_hashes=d.query_hashes,
            speed_ratio=d.speed_ratio,
            offset_frames=d.offset_frames,
        )
        for d in rows
    ]


def _shapes(plays: Iterable[Play]) -> list[timeline.StoredPlay]:
    return [
        timeline.StoredPlay(p.id, p.start_ms, p.end_ms, closed=p.closed_at is not None)
        for p in plays
    ]


def _apply(
    session: Session,
    station_id: int,
    stored: Sequence[Play],
    plan: timeline.Reconciliation,
    now: datetime,
) -> None:
    """Write a reconciliation: deletes first, so a moved play may take a freed start."""
    by_id = {p.id: p for p in stored}
    for play_id in plan.delete:
        session.delete(by_id[play_id])
    session.flush()
    for play_id, shape in plan.update:
        _assign(by_id[play_id], shape)
        by_id[play_id].updated_at = now
    for shape in plan.insert:
        play = Play(station_id=station_id, created_at=now, updated_at=now)
        _assign(play, shape)
        session.add(play)
    session.flush()


def _assign(play: Play, shape: timeline.TimedPlay) -> None:
    play.track_id = shape.track_id
    play.start_ms = shape.start_ms
    play.end_ms = shape.end_ms
    play.speed_ratio = shape.speed_ratio
    play.inliers = shape.inliers
    play.detections = shape.detections
    play.confidence = shape.confidence
    play.chosen_by = shape.chosen_by


def close_final_plays(
    session: Session, station_id: int, now: datetime, close_wait_s: int
) -> list[int]:
    """Close the station's open plays that no batch still to come can change (_settled); or
    that nothing has changed for `close_wait_s` (the device may never send that audio)."""
    closed = []
    open_plays = session.scalars(
        select(Play).where(Play.station_id == station_id, Play.closed_at.is_(None))
    ).all()
    for play in sorted(open_plays, key=lambda p: p.start_ms):
        waited = now - as_utc(play.updated_at) >= timedelta(seconds=close_wait_s)
        if waited or _settled(session, play, ms_of(now)):
            play.closed_at = now
            closed.append(play.id)
    session.flush()
    return closed


def _settled(session: Session, play: Play, now_ms: int) -> bool:
    """Whether some source that heard the play has sent, and had built into plays, all its
    audio from REACH_MS before the play to REACH_MS after it, or up to where its audio stopped
    (a source_ended or source_stopped event whose seq_last is its last window here: no audio
    follows it; after a stop, once RESTART_GRACE_MS has passed). Later batches cannot join the
    play's group (group_matches never bridges a longer gap) nor merge with it; earlier ones
    could have started it sooner."""
    start_ms = play.start_ms - timeline.REACH_MS
    end_ms = play.end_ms + timeline.REACH_MS
    rows = session.execute(
        select(
            IngestedBatch.device_id,
            IngestedBatch.source_id,
            IngestedBatch.seq,
            IngestedBatch.window_start_ms,
            IngestedBatch.window_frames,
            IngestedBatch.plays_at,
        ).where(
            IngestedBatch.station_id == play.station_id,
            IngestedBatch.window_start_ms >= start_ms - WINDOW_MS_MAX,
            IngestedBatch.window_start_ms <= end_ms,
        )
    ).all()
    by_source: dict[tuple[int, str], list] = {}
    for row in rows:
        if row.window_start_ms + row.window_frames * FRAME_MS > start_ms:
            by_source.setdefault((row.device_id, row.source_id), []).append(row)
    for (device_id, source_id), batches in by_source.items():
        if any(b.plays_at is None for b in batches):
            continue  # still being matched or built: its detections may change the play
        windows = [
            timeline.SourceWindow(
                b.seq, b.window_start_ms, b.window_start_ms + b.window_frames * FRAME_MS
            )
            for b in batches
        ]
        seqs = [w.seq for w in windows]
        before = _built(session, device_id, source_id, min(seqs) - 1)
        after = _built(session, device_id, source_id, max(seqs) + 1)
        after = after or _stopped_after(session, device_id, source_id, max(seqs), now_ms)
        holes = _holes_arrived(session, device_id, source_id, seqs)
        if timeline.source_settled(windows, start_ms, end_ms, before, after, holes):
            return True
    return False


def _holes_arrived(session: Session, device_id: int, source_id: str, seqs: list[int]) -> bool:
    """Whether every seq of the source from min(seqs) to max(seqs) has arrived and is in plays
    (those not in `seqs` lie at other times: a rerun of the same file with the same start)."""
    lo, hi = min(seqs), max(seqs)
    if hi - lo + 1 == len(set(seqs)):
        return True
    built = session.scalar(
        select(func.count()).where(
            IngestedBatch.device_id == device_id,
            IngestedBatch.source_id == source_id,
            IngestedBatch.seq.between(lo, hi),
            IngestedBatch.plays_at.is_not(None),
        )
    )
    return built == hi - lo + 1


def _built(session: Session, device_id: int, source_id: str, seq: int) -> bool:
    """Whether the source's batch `seq` has arrived and is in plays."""
    return (
        session.scalar(
            select(func.count()).where(
                IngestedBatch.device_id == device_id,
                IngestedBatch.source_id == source_id,
                IngestedBatch.seq == seq,
                IngestedBatch.plays_at.is_not(None),
            )
        )
        == 1
    )


def _stopped_after(session: Session, device_id: int, source_id: str, seq: int, now_ms: int) -> bool:
    """Whether the device said the source's audio stopped after batch `seq`: the file ended, or
    capture stopped RESTART_GRACE_MS ago or more (an agent restarted sooner carries on at seq + 1
    and its windows keep the play open: closing at the stop would split one airing in two). A
    few events per source, so their detail is read here rather than in SQL."""
    rows = session.execute(
        select(DeviceEvent.kind, DeviceEvent.at_ms, DeviceEvent.detail_json).where(
            DeviceEvent.device_id == device_id,
            DeviceEvent.source_id == source_id,
            DeviceEvent.kind.in_(STOP_KINDS),
        )
    )
    for kind, at_ms, detail in rows:
        seq_last = json.loads(detail).get("seq_last")
        if type(seq_last) is not int or seq_last != seq:  # not True, which equals 1
            continue
        if kind == "source_ended" or now_ms - at_ms >= RESTART_GRACE_MS:
            return True
    return False


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for n in range(0, len(ids), IDS_PER_STATEMENT_MAX):
        yield ids[n : n + IDS_PER_STATEMENT_MAX]


def sweep_plays() -> int:
    """Scheduled job: enqueue update_plays for every station with batches waiting for it or
    plays still open (closes plays whose device went quiet; recovers a lost job)."""
    with worker_app().app_context():
        waiting = select(IngestedBatch.station_id).where(
            IngestedBatch.plays_at.is_(None), IngestedBatch.matched_at.is_not(None)
        )
        open_plays = select(Play.station_id).where(Play.closed_at.is_(None))
        station_ids = set(db.session.scalars(waiting.distinct())) | set(
            db.session.scalars(open_plays.distinct())
        )
    queue = worker_queue()
    return sum(queues.enqueue_update_plays(queue, s) for s in sorted(station_ids))
