"""Plays on a station's UTC timeline: the pure rules update_plays applies to stored detections.

Detections come from batches of any device of the station, in any order. Each is placed on one
timeline (frames of FRAME_MS since an origin in UTC ms) so that build_plays can group them
exactly as it groups the windows of one recording.

Plays of one track depend only on that track's detections, and no play rule reaches across a
gap longer than REACH_MS (the longest gap a line group bridges). So a track's detections split
into independent *components* at such gaps: a late batch changes only the components it
touches, and recomputing a component from all its detections gives the same plays whatever
order the batches came in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from central.matching.index import TrackRef
from central.matching.matcher import Match
from central.plays.aggregate import LINE_GAP_MAX_S, Play, build_plays
from edge_agent.fingerprint import FRAME_MS

REACH_MS = int(LINE_GAP_MAX_S * 1000)  # detections further apart never touch the same play
COVERAGE_GAP_MS_MAX = 3_000  # windows reaching this close to a span's edge reach the edge
ONLY_CANDIDATE = "only_candidate"  # chosen_by of a play no entry of the same recording rivalled


@dataclass(frozen=True)
class StoredDetection:
    """What update_plays needs of a Detection row."""

    track_id: int
    start_ms: int  # UTC of the first inlier
    end_ms: int  # UTC of the last inlier
    query_first_frame: int
    query_last_frame: int
    inliers: int
    query_hashes: int
    speed_ratio: float
    offset_frames: float  # reference frame = speed_ratio * query frame + offset_frames


@dataclass(frozen=True)
class TimedPlay:
    """A play placed in UTC ms."""

    track_id: int
    start_ms: int
    end_ms: int
    speed_ratio: float
    inliers: int
    detections: int
    confidence: float
    chosen_by: str = ONLY_CANDIDATE  # which rule of same_recording.py kept this track's play


def components(detections: Sequence[StoredDetection]) -> list[list[StoredDetection]]:
    """One track's detections split where nothing was detected for longer than REACH_MS."""
    parts: list[list[StoredDetection]] = []
    reach_end_ms = None
    for d in sorted(detections, key=lambda d: (d.start_ms, d.end_ms)):
        if reach_end_ms is None or d.start_ms - reach_end_ms > REACH_MS:
            parts.append([])
            reach_end_ms = d.end_ms
        parts[-1].append(d)
        reach_end_ms = max(reach_end_ms, d.end_ms)
    return parts


def on_timeline(d: StoredDetection, track: TrackRef, origin_ms: int) -> Match:
    """`d` as a Match whose query frames count FRAME_MS steps since `origin_ms`."""
    first = round((d.start_ms - origin_ms) / FRAME_MS)
    shift = d.query_first_frame - first  # batch frame = timeline frame + shift
    return Match(
        track=track,
        inliers=d.inliers,
        query_hashes=d.query_hashes,
        speed_ratio=d.speed_ratio,
        offset_frames=d.offset_frames + d.speed_ratio * shift,
        query_first_frame=first,
        query_last_frame=d.query_last_frame - shift,
    )


def component_plays(component: Sequence[StoredDetection], track: TrackRef) -> list[TimedPlay]:
    """The plays in one component of one track's detections, in UTC ms."""
    origin_ms = min(d.start_ms for d in component)
    plays = build_plays([on_timeline(d, track, origin_ms) for d in component])
    return [_timed(p, origin_ms) for p in plays]


def _timed(play: Play, origin_ms: int) -> TimedPlay:
    return TimedPlay(
        track_id=play.track.track_id,
        start_ms=origin_ms + play.start_frame * FRAME_MS,
        end_ms=origin_ms + play.end_frame * FRAME_MS,
        speed_ratio=play.speed_ratio,
        inliers=play.inliers,
        detections=play.matches,
        confidence=play.confidence,
    )


@dataclass(frozen=True)
class SourceWindow:
    """One batch window of one source (device and source id), by its per-source seq."""

    seq: int
    start_ms: int
    end_ms: int


def source_settled(
    windows: Sequence[SourceWindow],
    start_ms: int,
    end_ms: int,
    has_before: bool,
    has_after: bool,
    holes_arrived: bool = False,
) -> bool:
    """Whether a source's windows leave nothing of [start_ms, end_ms] still to arrive.

    Seqs only grow, one per window, so a missing seq is audio still on its way (a backlog)
    while a hole in time between consecutive seqs is audio never captured (the agent was off).
    The span is settled when the source's windows in it have consecutive seqs, or every seq
    missing between them has arrived at other times (`holes_arrived`: the same file run again
    with the same start, whose later seqs cover the same hours), and reach both ends, or stop at
    a neighbouring window that is itself present (`has_before`, `has_after`), or at the source's
    very first window (seq 0).
    """
    if not windows:
        return False
    ordered = sorted(windows, key=lambda w: w.seq)
    if ordered[-1].seq - ordered[0].seq + 1 != len(ordered) and not holes_arrived:
        return False
    first, last = ordered[0], ordered[-1]
    lead = first.start_ms - start_ms <= COVERAGE_GAP_MS_MAX or first.seq == 0 or has_before
    tail = end_ms - last.end_ms <= COVERAGE_GAP_MS_MAX or has_after
    return lead and tail


def overlap_ms(a_start_ms: int, a_end_ms: int, b_start_ms: int, b_end_ms: int) -> int:
    """How long two spans overlap (0 when apart)."""
    return max(0, min(a_end_ms, b_end_ms) - max(a_start_ms, b_start_ms))


@dataclass(frozen=True)
class StoredPlay:
    """What reconcile needs of a stored play."""

    play_id: int
    start_ms: int
    end_ms: int
    closed: bool


@dataclass(frozen=True)
class Reconciliation:
    """How stored plays of one component become its recomputed plays."""

    update: list[tuple[int, TimedPlay]]  # (stored play id, its new shape)
    insert: list[TimedPlay]
    delete: list[int]  # open plays no longer found


def reconcile(fresh: Sequence[TimedPlay], stored: Sequence[StoredPlay]) -> Reconciliation:
    """Pair recomputed plays with stored ones of the same component and track.

    A closed play is final (royalties may have been paid on it): a recomputed play that overlaps
    it is dropped. An open play is updated in place by the recomputed play overlapping it most,
    so its id stays stable while it grows; open plays left over are deleted.
    """
    closed = [s for s in stored if s.closed]
    candidates = [
        p
        for p in fresh
        if not any(overlap_ms(p.start_ms, p.end_ms, c.start_ms, c.end_ms) for c in closed)
    ]
    open_plays = {s.play_id: s for s in stored if not s.closed}
    pairs = sorted(
        (
            (overlap_ms(p.start_ms, p.end_ms, s.start_ms, s.end_ms), n, s.play_id)
            for n, p in enumerate(candidates)
            for s in open_plays.values()
        ),
        reverse=True,
    )
    update: dict[int, int] = {}  # candidate index -> stored id
    for shared_ms, n, play_id in pairs:
        if shared_ms > 0 and n not in update and play_id not in update.values():
            update[n] = play_id
    return Reconciliation(
        update=[(play_id, candidates[n]) for n, play_id in sorted(update.items())],
        insert=[p for n, p in enumerate(candidates) if n not in update],
        delete=sorted(set(open_plays) - set(update.values())),
    )
