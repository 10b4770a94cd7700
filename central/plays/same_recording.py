"""One airing, one play: the pure rule that picks one track when entries of the same recording
(a radio edit and its original, a near-duplicate registered twice) are heard at once.

Tracks are the same recording when the import's near-duplicate check linked them (directly or
through others: `recording_classes`). Plays of such tracks at one station are one *airing* when
they overlap for more than AIRING_OVERLAP_SHARE_MIN of the shorter one. Of an airing's plays
one is kept, chosen by the first rule that tells them apart:

1. longest_span: the longest on air, by more than SPAN_TIE_S (the original aired in full is
   longer than the edit found inside it);
2. most_coverage: the largest share of its own track on air, by more than COVERAGE_TIE (the
   edit aired in full covers all of the edit, the original only a part of it);
3. earliest_registered: the lowest track id.

The kept play records why: "only_candidate" when no other entry was heard with it, else
"<rule> over track <external id>[, <external id>...]". A closed play is final (royalties may
be paid on it): an airing holding one keeps it, and its other plays are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from central.matching.index import TrackRef
from central.plays.aggregate import Play
from central.plays.timeline import ONLY_CANDIDATE, TimedPlay, overlap_ms
from edge_agent.fingerprint import FRAME_MS

AIRING_OVERLAP_SHARE_MIN = 0.5
SPAN_TIE_S = 5.0  # edges extend up to EDGE_EXTRAPOLATE_S_MAX toward a track's top or tail
COVERAGE_TIE = 0.05
CHOSEN_BY_CHARS_MAX = 200  # the length of play.chosen_by


@dataclass(frozen=True)
class ClosedSpan:
    """A closed stored play: final, it takes part in its airing but is never replaced."""

    track_id: int
    start_ms: int
    end_ms: int


def recording_classes(pairs: Iterable[tuple[int, int]]) -> dict[int, frozenset[int]]:
    """Track id -> every track linked to it, directly or not (itself included)."""
    parent: dict[int, int] = {}

    def root(t: int) -> int:
        while parent.setdefault(t, t) != t:
            t = parent[t]
        return t

    for a, b in pairs:
        parent[root(a)] = root(b)
    members: dict[int, set[int]] = {}
    for t in list(parent):
        members.setdefault(root(t), set()).add(t)
    return {t: frozenset(members[root(t)]) for t in parent}


def same_airing(a: TimedPlay | ClosedSpan, b: TimedPlay | ClosedSpan) -> bool:
    """Whether two plays of different tracks overlap for most of the shorter one."""
    if a.track_id == b.track_id:
        return False
    shorter_ms = min(a.end_ms - a.start_ms, b.end_ms - b.start_ms)
    shared_ms = overlap_ms(a.start_ms, a.end_ms, b.start_ms, b.end_ms)
    return shared_ms > AIRING_OVERLAP_SHARE_MIN * max(shorter_ms, 1)


def one_per_airing(
    fresh: Sequence[TimedPlay],
    closed: Sequence[ClosedSpan],
    tracks: Mapping[int, TrackRef],
) -> list[TimedPlay]:
    """The plays to keep of `fresh` (plays of tracks of one recording), each with chosen_by."""
    kept = []
    for airing in _airings(fresh, closed):
        plays = [p for p in airing if isinstance(p, TimedPlay)]
        if len(plays) < len(airing):
            continue  # a closed play already stands for this airing
        if len(plays) == 1:
            kept.append(replace(plays[0], chosen_by=ONLY_CANDIDATE))
            continue
        winner, rule = choose(plays, tracks)
        losers = sorted(tracks[p.track_id].external_id for p in plays if p is not winner)
        label = "track" if len(losers) == 1 else "tracks"
        chosen_by = f"{rule} over {label} {', '.join(losers)}"[:CHOSEN_BY_CHARS_MAX]
        kept.append(replace(winner, chosen_by=chosen_by))
    return sorted(kept, key=lambda p: (p.start_ms, p.track_id))


def one_stream_play_per_airing(
    plays: Sequence[Play], classes: Mapping[int, frozenset[int]]
) -> list[Play]:
    """build_plays' plays of one recording (the offline playlog), one per airing of each
    recording of the catalogue, chosen exactly as update_plays chooses them."""
    tracks = {p.track.track_id: p.track for p in plays}
    timed = [
        TimedPlay(
            p.track.track_id,
            p.start_frame * FRAME_MS,
            p.end_frame * FRAME_MS,
            p.speed_ratio,
            p.inliers,
            p.matches,
            p.confidence,
        )
        for p in plays
    ]
    by_recording: dict[frozenset[int], list[TimedPlay]] = {}
    for t in timed:
        key = classes.get(t.track_id, frozenset({t.track_id}))
        by_recording.setdefault(key, []).append(t)
    kept = {
        (k.track_id, k.start_ms)
        for group in by_recording.values()
        for k in one_per_airing(group, [], tracks)
    }
    return [p for p, t in zip(plays, timed, strict=True) if (t.track_id, t.start_ms) in kept]


def choose(plays: Sequence[TimedPlay], tracks: Mapping[int, TrackRef]) -> tuple[TimedPlay, str]:
    """The play an airing keeps and the rule that picked it (see the module's docstring)."""
    longest_ms = max(p.end_ms - p.start_ms for p in plays)
    left = [p for p in plays if p.end_ms - p.start_ms >= longest_ms - SPAN_TIE_S * 1000]
    if len(left) == 1:
        return left[0], "longest_span"
    best = max(_coverage(p, tracks[p.track_id]) for p in left)
    left = [p for p in left if _coverage(p, tracks[p.track_id]) >= best - COVERAGE_TIE]
    if len(left) == 1:
        return left[0], "most_coverage"
    return min(left, key=lambda p: p.track_id), "earliest_registered"


def _coverage(play: TimedPlay, track: TrackRef) -> float:
    """The share of the track's own length the play lasted (at the play's speed)."""
    if track.duration_frames <= 0:
        return 0.0
    track_ms = track.duration_frames * FRAME_MS / max(play.speed_ratio, 0.5)
    return min(1.0, (play.end_ms - play.start_ms) / track_ms)


def _airings(
    fresh: Sequence[TimedPlay], closed: Sequence[ClosedSpan]
) -> list[list[TimedPlay | ClosedSpan]]:
    """The plays grouped into airings: connected by same_airing, each in order of start."""
    items: list[TimedPlay | ClosedSpan] = [*fresh, *closed]
    group = list(range(len(items)))

    def root(n: int) -> int:
        while group[n] != n:
            n = group[n]
        return n

    for i, a in enumerate(items):
        for j in range(i + 1, len(items)):
            if same_airing(a, items[j]):
                group[root(i)] = root(j)
    airings: dict[int, list[TimedPlay | ClosedSpan]] = {}
    for n, item in enumerate(items):
        airings.setdefault(root(n), []).append(item)
    return [a for a in airings.values() if any(isinstance(p, TimedPlay) for p in a)]
