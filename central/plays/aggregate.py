"""Turn per-window matches into plays: one track, one consistent alignment, at least 30 s on air.

Rules (pure, over frozen dataclasses):
- a match joins a group of the same track when it lies on the group's line
  (reference frame = speed * broadcast frame + offset) within ALIGN_TOLERANCE_FRAMES, plus a
  small allowance for speed error over the distance, and starts at most LINE_GAP_MAX_S after the
  group's last evidence: DJ talk, noise over a quiet passage or a dropout does not split a play,
  and a replay of the track can never lie on the same line;
- a group becomes a play only if at least one match in it is strong, its evidence adds up to
  EVIDENCE_INLIERS_MIN, and it lasts PLAY_S_MIN: weak matches only widen the edges of plays that
  strong evidence started, which puts start and end within a second or two;
- the same track at another alignment is another group: played twice in a row is two plays;
- loop-based music matches many alignments in every window, so no single line runs through the
  play: consecutive strong groups of one track are merged while the merged span still fits in
  one play of the track (its duration at the play's speed, plus RESTART_SLACK_S); a restart
  would not fit;
- a restart is a second play even when both pieces would fit in one: a group that is a play on
  its own, following one that is a play on its own, never merges into it when its line starts
  the track again at or before the point where the earlier one began (within RESTART_SLACK_S):
  played again from the top, or from before the airing began. A jump back to a point inside
  the airing is what loop-based music looks like, and is merged as above;
- a group overlapping a stronger group of the same track (a repeated chorus matching its other
  occurrence) is dropped;
- edges: a fade-in, a quiet intro or talk over it hides the first seconds, so when the first
  evidence lies within EDGE_EXTRAPOLATE_S_MAX of the track's start, the play starts where the
  line puts the track's first frame; the same at the tail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from central.matching.index import TrackRef
from central.matching.matcher import Match, confidence_for
from edge_agent.fingerprint import FRAME_MS, TARGET_DT_MAX_FRAMES

PLAY_S_MIN = 30.0
GAP_MAX_S = 30.0
LINE_GAP_MAX_S = 180.0  # on the same line a longer gap is still the same play: a replay never is
ALIGN_TOLERANCE_FRAMES = 16.0
ALIGN_DRIFT_PER_FRAME = 0.004  # speed uncertainty of one match, in frames per frame of distance
EVIDENCE_INLIERS_MIN = 60
EDGE_PAD_FRAMES = (
    TARGET_DT_MAX_FRAMES  # the last hash's target peaks lie up to 1 s after its anchor
)
OVERLAP_SHARE_MAX = 0.5
RESTART_SLACK_S = 8.0
EDGE_EXTRAPOLATE_S_MAX = 6.0  # evidence this close to the track's top or tail: extend to it

_FRAMES_PER_S = 1000.0 / FRAME_MS


@dataclass(frozen=True)
class Play:
    """A track on air from start to end of the broadcast timeline, and how sure we are."""

    track: TrackRef
    start_frame: int
    end_frame: int
    speed_ratio: float
    offset_frames: float  # reference frame = speed_ratio * broadcast frame + offset_frames
    inliers: int  # evidence: hashes on the line, over all windows
    matches: int  # windows that contributed

    @property
    def start_s(self) -> float:
        """Start in seconds from the start of the stream."""
        return self.start_frame / _FRAMES_PER_S

    @property
    def end_s(self) -> float:
        """End in seconds from the start of the stream."""
        return self.end_frame / _FRAMES_PER_S

    @property
    def duration_s(self) -> float:
        """Seconds on air."""
        return self.end_s - self.start_s

    @property
    def confidence(self) -> float:
        """0..1, from the total evidence."""
        return confidence_for(self.inliers / 2.0)


@dataclass
class _Group:
    track: TrackRef
    anchor: Match  # the strongest match so far: the group's line
    members: list[Match] = field(default_factory=list)

    @property
    def last_frame(self) -> int:
        return max(m.query_last_frame for m in self.members)

    @property
    def first_frame(self) -> int:
        return min(m.query_first_frame for m in self.members)

    @property
    def strong(self) -> bool:
        return any(m.strong for m in self.members)

    def accepts(self, m: Match) -> bool:
        if m.track.track_id != self.track.track_id:
            return False
        if m.query_first_frame - self.last_frame > LINE_GAP_MAX_S * _FRAMES_PER_S:
            return False
        return self.misalignment(m) <= self.tolerance(m)

    def misalignment(self, m: Match) -> float:
        mid = 0.5 * (m.query_first_frame + m.query_last_frame)
        return abs(self.anchor.reference_frame_at(mid) - m.reference_frame_at(mid))

    def tolerance(self, m: Match) -> float:
        anchor_mid = 0.5 * (self.anchor.query_first_frame + self.anchor.query_last_frame)
        distance = abs(0.5 * (m.query_first_frame + m.query_last_frame) - anchor_mid)
        return ALIGN_TOLERANCE_FRAMES + ALIGN_DRIFT_PER_FRAME * distance

    def add(self, m: Match) -> None:
        self.members.append(m)
        if m.inliers > self.anchor.inliers:
            self.anchor = m


def group_matches(matches: Iterable[Match]) -> list[_Group]:
    """Cluster matches by track and alignment, in broadcast order."""
    groups: list[_Group] = []
    for m in sorted(matches, key=lambda m: (m.query_first_frame, -m.inliers)):
        fits = [g for g in groups if g.accepts(m)]
        if fits:
            min(fits, key=lambda g: g.misalignment(m)).add(m)
        else:
            groups.append(_Group(track=m.track, anchor=m, members=[m]))
    return groups


def merge_pieces(groups: list[_Group]) -> list[_Group]:
    """Join consecutive strong groups of one track that together still fit in one play of it,
    unless the later one restarts the track."""
    merged: list[_Group] = []
    open_by_track: dict[int, _Group] = {}
    for g in sorted(groups, key=lambda g: g.first_frame):
        current = open_by_track.get(g.track.track_id)
        if g.strong and current is not None and _continues(current, g):
            for m in g.members:
                current.add(m)
            continue
        merged.append(g)
        if g.strong:
            open_by_track[g.track.track_id] = g
    return merged


def _continues(current: _Group, g: _Group) -> bool:
    return _fits_one_play(current, g) and not _restarts(current, g)


def _fits_one_play(a: _Group, b: _Group) -> bool:
    if b.first_frame - a.last_frame > GAP_MAX_S * _FRAMES_PER_S:
        return False
    if a.track.duration_frames <= 0:
        return False
    speed = max(a.anchor.speed_ratio, 0.5)
    span = max(a.last_frame, b.last_frame) - a.first_frame
    return span <= a.track.duration_frames / speed + RESTART_SLACK_S * _FRAMES_PER_S


def _restarts(current: _Group, g: _Group) -> bool:
    """Whether `g` is the track played again: both are plays on their own, and where `g`
    begins its line is at most RESTART_SLACK_S of track past where `current` began."""
    if not (_qualifies(current) and _qualifies(g)):
        return False
    began = current.anchor.reference_frame_at(current.first_frame)
    again = g.anchor.reference_frame_at(g.first_frame)
    return again <= began + RESTART_SLACK_S * _FRAMES_PER_S


def _to_play(group: _Group) -> Play:
    speed, offset = _fit_line(group)
    start, end = _edges(group, speed, offset)
    return Play(
        track=group.track,
        start_frame=start,
        end_frame=end,
        speed_ratio=speed,
        offset_frames=offset,
        inliers=sum(m.inliers for m in group.members),
        matches=len(group.members),
    )


def _edges(group: _Group, speed: float, offset: float) -> tuple[int, int]:
    """Broadcast frames of the play's start and end, extended to the track's top and tail."""
    first, last = group.first_frame, group.last_frame + EDGE_PAD_FRAMES
    reach = EDGE_EXTRAPOLATE_S_MAX * _FRAMES_PER_S
    before = (speed * first + offset) / speed  # broadcast frames since the track's top
    if 0.0 < before <= reach:
        first = int(round(first - before))
    duration = group.track.duration_frames
    after = (duration - (speed * last + offset)) / speed  # broadcast frames left to the tail
    if duration > 0 and 0.0 < after <= reach:
        last = int(round(last + after))
    return max(first, 0), last


def _fit_line(group: _Group) -> tuple[float, float]:
    """One line through the inlier spans of the members on the anchor's line, by evidence."""
    on_line = [m for m in group.members if group.misalignment(m) <= group.tolerance(m)]
    xs, ys, ws = [], [], []
    for m in on_line:
        for q in (m.query_first_frame, m.query_last_frame):
            xs.append(q)
            ys.append(m.reference_frame_at(q))
            ws.append(m.inliers)
    x, y, w = np.array(xs, float), np.array(ys, float), np.array(ws, float)
    if len(on_line) < 2 or np.ptp(x) < 1.0:
        return group.anchor.speed_ratio, group.anchor.offset_frames
    slope, intercept = np.polyfit(x, y, 1, w=np.sqrt(w))
    return float(slope), float(intercept)


def _qualifies(group: _Group) -> bool:
    if not group.strong:
        return False
    if sum(m.inliers for m in group.members) < EVIDENCE_INLIERS_MIN:
        return False
    span_frames = group.last_frame + EDGE_PAD_FRAMES - group.first_frame
    return span_frames >= PLAY_S_MIN * _FRAMES_PER_S


def _drop_shadowed(plays: list[Play]) -> list[Play]:
    """Remove a play overlapping a stronger play of the same track (a repeated section)."""
    kept: list[Play] = []
    for p in sorted(plays, key=lambda p: -p.inliers):
        if not any(_overlap_share(p, k) > OVERLAP_SHARE_MAX for k in kept if k.track == p.track):
            kept.append(p)
    return sorted(kept, key=lambda p: (p.start_frame, p.track.track_id))


def _overlap_share(a: Play, b: Play) -> float:
    overlap = min(a.end_frame, b.end_frame) - max(a.start_frame, b.start_frame)
    shorter = min(a.end_frame - a.start_frame, b.end_frame - b.start_frame)
    return max(overlap, 0) / max(shorter, 1)


def build_plays(matches: Sequence[Match]) -> list[Play]:
    """Plays from the matches of consecutive windows of one stream, in broadcast order."""
    groups = [g for g in merge_pieces(group_matches(matches)) if _qualifies(g)]
    return _drop_shadowed([_to_play(g) for g in groups])
