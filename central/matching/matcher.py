"""Match a window of query hashes against the index: offset- and speed-consistent voting.

1. lookup    every query hash, and its neighbours +-1 on the ratio field (the least robust
             field), by binary search; very common hashes (stop words) are skipped.
2. coarse    vote per (track, 1 s bin of reference-minus-query frame); a speed change of a few
             percent moves the line by under a bin over a 10 s window, so the true track piles
             up in one or two neighbouring bins while chance collisions scatter.
3. fine      for the best few coarse cells, search speed ratios 0.92..1.08 for the line
             ref_frame = speed * query_frame + offset that most hashes agree with (+-2 frames),
             then refine it by least squares on those inliers.

Pure: arrays in, frozen dataclasses out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from central.matching.index import MatchIndex, TrackRef, decode_postings
from edge_agent.fingerprint import RATIO_LEVELS, Fingerprints

RATIO_MASK = RATIO_LEVELS - 1
POSTINGS_PER_HASH_MAX = 4000  # a hash in more places than this says nothing
COARSE_BIN_FRAMES = 32
CANDIDATES_MAX = 8
COARSE_VOTES_MIN = 4
SPEED_MIN = 0.92  # resampling +-5 % and tempo +-3 % can stack
SPEED_MAX = 1.08
SPEED_STEP = 0.0025
INLIER_TOLERANCE_FRAMES = 2.0
WEAK_INLIERS_MIN = 5  # reported, but only extends a play that stronger evidence started
STRONG_INLIERS_MIN = 20  # enough, alone, to start a play (music outside the index: max 24, p50 7)

_SPEEDS = np.round(np.arange(SPEED_MIN, SPEED_MAX + SPEED_STEP / 2, SPEED_STEP), 6)


@dataclass(frozen=True)
class Match:
    """One track found in one query window, and how the two timelines line up."""

    track: TrackRef
    inliers: int  # query hashes on the line
    query_hashes: int  # hashes in the window
    speed_ratio: float  # reference seconds per broadcast second (1.03: played 3 % fast)
    offset_frames: float  # reference frame = speed_ratio * query frame + offset_frames
    query_first_frame: int  # first and last inlier, absolute query frames
    query_last_frame: int

    @property
    def strong(self) -> bool:
        """Enough evidence to start a play on its own."""
        return self.inliers >= STRONG_INLIERS_MIN

    @property
    def confidence(self) -> float:
        """0..1: how far the evidence is above what music outside the catalogue produces."""
        return confidence_for(self.inliers)

    def reference_frame_at(self, query_frame: float) -> float:
        """Where in the reference track a query frame falls."""
        return self.speed_ratio * query_frame + self.offset_frames


def confidence_for(inliers: int | float) -> float:
    """Calibrated so STRONG_INLIERS_MIN maps to 0.5 and twice that to about 0.9."""
    return float(1.0 - 0.5 ** (max(float(inliers), 0.0) / STRONG_INLIERS_MIN) ** 1.7)


@dataclass(frozen=True)
class _Pairs:
    query_index: np.ndarray  # which query hash
    query_frames: np.ndarray  # int64, relative to the window's first frame
    track_index: np.ndarray
    ref_frames: np.ndarray


def lookup(index: MatchIndex, query: Fingerprints) -> _Pairs:
    """Every (query hash, reference occurrence) pair, probing +-1 on the ratio field."""
    h = query.hashes.astype(np.uint64)
    ratio = h & np.uint64(RATIO_MASK)
    low = h - (ratio > 0).astype(np.uint64)
    high = h + (ratio < RATIO_MASK).astype(np.uint64)
    # Needles of the index's own dtype: a mixed-dtype search would convert the whole index.
    lo = np.searchsorted(index.entries, low << np.uint64(32), "left")
    hi = np.searchsorted(index.entries, (high + np.uint64(1)) << np.uint64(32), "left")
    counts = hi - lo
    counts[counts > POSTINGS_PER_HASH_MAX] = 0
    total = int(counts.sum())
    group_start = np.cumsum(counts) - counts
    positions = np.repeat(lo - group_start, counts) + np.arange(total)
    query_index = np.repeat(np.arange(len(h)), counts)
    track_index, ref_frames = decode_postings(index, index.entries[positions])
    frames = query.anchor_frames.astype(np.int64)
    first = int(frames.min()) if len(frames) else 0
    return _Pairs(query_index, frames[query_index] - first, track_index, ref_frames)


def match_window(index: MatchIndex, query: Fingerprints) -> list[Match]:
    """Tracks in one window of query hashes, best first; weak candidates included."""
    if len(query) == 0 or len(index) == 0:
        return []
    pairs = lookup(index, query)
    if len(pairs.query_index) == 0:
        return []
    first_frame = int(query.anchor_frames.min())
    cells = np.floor_divide(pairs.ref_frames - pairs.query_frames, COARSE_BIN_FRAMES)
    candidates = _coarse_candidates(pairs.track_index, cells)
    if not candidates:
        return []
    # Only the candidate tracks' pairs go on to the fine search.
    keep = np.isin(pairs.track_index, [t for t, _ in candidates])
    pairs, cells = _Pairs(*(a[keep] for a in _astuple(pairs))), cells[keep]
    matches = []
    for track_index, cell in candidates:
        found = _fit_line(index, pairs, cells, track_index, cell, first_frame, len(query))
        if found is not None and found.inliers >= WEAK_INLIERS_MIN:
            matches.append(found)
    return _best_per_track(matches)


def _astuple(pairs: _Pairs) -> tuple[np.ndarray, ...]:
    return (pairs.query_index, pairs.query_frames, pairs.track_index, pairs.ref_frames)


_VOTE_BUCKET_BITS = 20
_VOTE_BUCKETS = 1 << _VOTE_BUCKET_BITS
_VOTE_SHORTLIST = 512


def _coarse_candidates(track_index: np.ndarray, cells: np.ndarray) -> list[tuple[int, int]]:
    """(track, coarse offset cell) with the most votes, counting each cell with its neighbour.

    Votes are counted in a hashed table: one bincount and no sort, as a query at 10,000 tracks
    has ~200,000 pairs. With 2^20 buckets a bucket collects ~0.2 stray votes; the fine search
    then checks every candidate exactly.
    """
    key = (track_index.astype(np.int64) << 32) + (cells + (1 << 30))
    bucket = _vote_bucket(key)
    counts = np.bincount(bucket, minlength=_VOTE_BUCKETS)
    joint = counts[bucket] + counts[_vote_bucket(key + 1)]
    if len(joint) > _VOTE_SHORTLIST:
        shortlist = np.argpartition(-joint, _VOTE_SHORTLIST)[:_VOTE_SHORTLIST]
        shortlisted = np.unique(key[shortlist])
    else:
        shortlisted = np.unique(key)
    votes = counts[_vote_bucket(shortlisted)] + counts[_vote_bucket(shortlisted + 1)]
    best = np.argsort(-votes, kind="stable")[:CANDIDATES_MAX]
    best = best[votes[best] >= COARSE_VOTES_MIN]
    return [
        (int(shortlisted[i] >> 32), int((shortlisted[i] & 0xFFFFFFFF) - (1 << 30))) for i in best
    ]


def _vote_bucket(key: np.ndarray) -> np.ndarray:
    """Fibonacci hashing: the top 20 bits of a 64-bit product depend on every bit of the key."""
    product = key.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return (product >> np.uint64(64 - _VOTE_BUCKET_BITS)).astype(np.int64)


def _fit_line(
    index: MatchIndex,
    pairs: _Pairs,
    cells: np.ndarray,
    track_index: int,
    cell: int,
    first_frame: int,
    query_hashes: int,
) -> Match | None:
    """Best speed and offset for one candidate, refined on its inliers."""
    near = (pairs.track_index == track_index) & (cells >= cell - 1) & (cells <= cell + 2)
    tq = pairs.query_frames[near].astype(np.float64)
    tr = pairs.ref_frames[near].astype(np.float64)
    qi = pairs.query_index[near]
    speed, offset = _grid_search(tq, tr)
    speed, offset, inlier = _refine(tq, tr, speed, offset)
    if not inlier.any():
        return None
    count = int(np.unique(qi[inlier]).size)
    return Match(
        track=index.tracks[track_index],
        inliers=count,
        query_hashes=query_hashes,
        speed_ratio=float(speed),
        offset_frames=float(offset - speed * first_frame),
        query_first_frame=int(tq[inlier].min()) + first_frame,
        query_last_frame=int(tq[inlier].max()) + first_frame,
    )


def _grid_search(tq: np.ndarray, tr: np.ndarray) -> tuple[float, float]:
    """The (speed, offset) cell of a 2-D histogram that most pairs fall in."""
    offsets = np.rint(tr[None, :] - _SPEEDS[:, None] * tq[None, :]).astype(np.int64)
    low = int(offsets.min())
    width = int(offsets.max()) - low + 3
    flat = (np.arange(len(_SPEEDS))[:, None] * width + (offsets - low + 1)).reshape(-1)
    hist = np.bincount(flat, minlength=len(_SPEEDS) * width).reshape(len(_SPEEDS), width)
    smooth = hist.copy()
    smooth[:, 1:] += hist[:, :-1]
    smooth[:, :-1] += hist[:, 1:]
    # Prefer the speed nearest 1.0 among ties: order the search by distance from 1.0.
    by_nearness = np.argsort(np.abs(_SPEEDS - 1.0), kind="stable")
    flat_best = [int(smooth[s].max()) for s in by_nearness]
    s = by_nearness[int(np.argmax(flat_best))]
    return float(_SPEEDS[s]), float(int(np.argmax(smooth[s])) + low - 1)


def _refine(
    tq: np.ndarray, tr: np.ndarray, speed: float, offset: float
) -> tuple[float, float, np.ndarray]:
    """Least-squares line through the inliers of (speed, offset), when they span enough time."""
    inlier = np.abs(tr - speed * tq - offset) <= INLIER_TOLERANCE_FRAMES
    if inlier.sum() >= 3 and np.ptp(tq[inlier]) >= 64:
        slope, intercept = np.polyfit(tq[inlier], tr[inlier], 1)
        if SPEED_MIN <= slope <= SPEED_MAX:
            refined = np.abs(tr - slope * tq - intercept) <= INLIER_TOLERANCE_FRAMES
            if refined.sum() >= inlier.sum():
                return float(slope), float(intercept), refined
    return speed, offset, inlier


def _best_per_track(matches: list[Match]) -> list[Match]:
    """One match per track and alignment (a window may hold a track's end and its restart)."""
    kept: list[Match] = []
    for m in sorted(matches, key=lambda m: -m.inliers):
        if not any(_same_alignment(m, k) for k in kept):
            kept.append(m)
    return kept


def _same_alignment(a: Match, b: Match) -> bool:
    if a.track.track_id != b.track.track_id:
        return False
    mid = 0.5 * (a.query_first_frame + a.query_last_frame)
    gap = abs(a.reference_frame_at(mid) - b.reference_frame_at(mid))
    return gap <= 2 * COARSE_BIN_FRAMES


def split_windows(query: Fingerprints, window_frames: int) -> list[Fingerprints]:
    """Consecutive windows of `window_frames` by anchor frame, from frame 0; empty ones dropped."""
    if len(query) == 0:
        return []
    window = query.anchor_frames.astype(np.int64) // window_frames
    bounds = np.flatnonzero(np.diff(window)) + 1
    edges = np.concatenate([[0], bounds, [len(query)]])
    return [
        Fingerprints(query.hashes[a:b], query.anchor_frames[a:b])
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
