"""Pure scoring of reported plays against the ground truth of a simulated broadcast.

Definitions (all times in seconds on the recording's timeline):

- overlap(a, b) = max(0, min(a.end_s, b.end_s) - max(a.start_s, b.start_s)).
- A reported play r and a true play t are a *candidate pair* when they name the same track and
  overlap(r, t) >= 0.5 * min(duration(r), duration(t)), i.e. the overlap covers at least half of
  the true play OR at least half of the reported play; zero overlap never qualifies.
- Matching is one-to-one and greedy: candidate pairs are taken in order of decreasing overlap
  (ties: the smaller start error, then the earlier report, then the earlier true play); a pair is
  kept when neither side is matched yet. Kept pairs are true positives (TP); unmatched reports
  are false positives (FP); unmatched true plays are false negatives (FN).
- precision = TP / reported (1.0 when nothing is reported); recall = TP / true plays (1.0 when
  there are none); F1 = 2PR / (P + R) (0.0 when P + R = 0).
- Every FP gets one reason, the first that applies:
  "heldout": at least half of it overlaps held-out music (these are the held-out false plays);
  "short": it names the track of a catalogue segment aired < 30 s and is a candidate pair with
  that segment by the rule above (short segments must not be logged, so these are FPs);
  "duplicate": it is a candidate pair with a true play that another report already took;
  "other": anything else (wrong track, or music that is not on air at that time).
- Start and end errors are |reported - true| over the TPs; median and 95th percentile (linear
  interpolation), None when there is no TP.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

OVERLAP_SHARE_MIN = 0.5
HELDOUT_SHARE_MIN = 0.5


@dataclass(frozen=True)
class Play:
    """A track on the timeline: a true play, a short segment, held-out music or a report."""

    track_id: str
    start_s: float
    end_s: float
    speed_ratio: float | None = None

    @property
    def duration_s(self) -> float:
        """Length of the interval in seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Truth:
    """What was on air: plays to log, short catalogue segments and held-out music not to log."""

    plays: tuple[Play, ...]
    short: tuple[Play, ...] = ()
    heldout: tuple[Play, ...] = ()


@dataclass(frozen=True)
class Match:
    """A true positive: one report matched to one true play."""

    reported: Play
    true: Play
    overlap_s: float


@dataclass(frozen=True)
class FalsePlay:
    """A false positive and why it is one."""

    reported: Play
    reason: str  # "heldout", "short", "duplicate" or "other"


@dataclass(frozen=True)
class Score:
    """Counts, rates and timing errors of one run."""

    true_plays: int
    reported: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    heldout_false_plays: int
    short_false_plays: int
    duplicate_false_plays: int
    other_false_plays: int
    start_error_s_median: float | None
    start_error_s_p95: float | None
    end_error_s_median: float | None
    end_error_s_p95: float | None
    speed_ratio_error_median: float | None
    matches: tuple[Match, ...] = ()
    false_plays: tuple[FalsePlay, ...] = ()
    missed: tuple[Play, ...] = ()

    def as_dict(self, details: bool = True) -> dict:
        """Return the score as plain JSON-ready data, with or without the per-play lists."""
        out = asdict(self)
        if not details:
            for key in ("matches", "false_plays", "missed"):
                out.pop(key)
        return out


def overlap_s(a: Play, b: Play) -> float:
    """Return how many seconds `a` and `b` share."""
    return max(0.0, min(a.end_s, b.end_s) - max(a.start_s, b.start_s))


def is_candidate(reported: Play, true: Play) -> bool:
    """Tell whether `reported` may match `true`: same track, overlap >= half the shorter one."""
    shared_s = overlap_s(reported, true)
    shorter_s = min(reported.duration_s, true.duration_s)
    return reported.track_id == true.track_id and shared_s > 0 and shared_s >= 0.5 * shorter_s


def match_plays(true_plays: tuple[Play, ...], reported: tuple[Play, ...]) -> list[tuple[int, int]]:
    """Return one-to-one (reported index, true index) pairs, greedy by decreasing overlap."""
    pairs = [
        (-overlap_s(r, t), abs(r.start_s - t.start_s), ri, ti)
        for ri, r in enumerate(reported)
        for ti, t in enumerate(true_plays)
        if is_candidate(r, t)
    ]
    taken_reported: set[int] = set()
    taken_true: set[int] = set()
    kept = []
    for _, _, ri, ti in sorted(pairs):
        if ri not in taken_reported and ti not in taken_true:
            taken_reported.add(ri)
            taken_true.add(ti)
            kept.append((ri, ti))
    return kept


def false_play_reason(play: Play, truth: Truth) -> str:
    """Return why an unmatched report is false: "heldout", "short", "duplicate" or "other"."""
    heldout_s = sum(overlap_s(play, h) for h in truth.heldout)
    if play.duration_s > 0 and heldout_s >= HELDOUT_SHARE_MIN * play.duration_s:
        return "heldout"
    if any(is_candidate(play, s) for s in truth.short):
        return "short"
    if any(is_candidate(play, t) for t in truth.plays):
        return "duplicate"
    return "other"


def score(truth: Truth, reported: tuple[Play, ...]) -> Score:
    """Return the score of `reported` against `truth`."""
    pairs = match_plays(truth.plays, reported)
    matches = tuple(
        Match(reported[ri], truth.plays[ti], overlap_s(reported[ri], truth.plays[ti]))
        for ri, ti in pairs
    )
    matched_reported = {ri for ri, _ in pairs}
    matched_true = {ti for _, ti in pairs}
    false_plays = tuple(
        FalsePlay(r, false_play_reason(r, truth))
        for ri, r in enumerate(reported)
        if ri not in matched_reported
    )
    missed = tuple(t for ti, t in enumerate(truth.plays) if ti not in matched_true)
    return _assemble(truth, reported, matches, false_plays, missed)


def _assemble(
    truth: Truth,
    reported: tuple[Play, ...],
    matches: tuple[Match, ...],
    false_plays: tuple[FalsePlay, ...],
    missed: tuple[Play, ...],
) -> Score:
    """Return the Score built from the matching's outcome."""
    tp, fp, fn = len(matches), len(false_plays), len(missed)
    precision = tp / len(reported) if reported else 1.0
    recall = tp / len(truth.plays) if truth.plays else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    reasons = [f.reason for f in false_plays]
    start_errors_s = [abs(m.reported.start_s - m.true.start_s) for m in matches]
    end_errors_s = [abs(m.reported.end_s - m.true.end_s) for m in matches]
    return Score(
        len(truth.plays), len(reported), tp, fp, fn, precision, recall, f1,
        reasons.count("heldout"), reasons.count("short"), reasons.count("duplicate"),
        reasons.count("other"),
        percentile(start_errors_s, 50), percentile(start_errors_s, 95),
        percentile(end_errors_s, 50), percentile(end_errors_s, 95),
        percentile(_speed_errors(matches), 50),
        matches, false_plays, missed,
    )  # fmt: skip


def _speed_errors(matches: tuple[Match, ...]) -> list[float]:
    """Return |reported - true| speed ratio over the matches where both are known."""
    return [
        abs(m.reported.speed_ratio - m.true.speed_ratio)
        for m in matches
        if m.reported.speed_ratio is not None and m.true.speed_ratio is not None
    ]


def percentile(values: list[float], q: float) -> float | None:
    """Return the q-th percentile of `values` (linear interpolation), None when empty."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def truth_from_document(document: dict) -> Truth:
    """Return the Truth of a ground-truth document written by bench/simulate.py."""
    return Truth(
        plays=tuple(_play(row, "track_id") for row in document["plays"]),
        short=tuple(_play(row, "track_id") for row in document.get("short", [])),
        heldout=tuple(_play(row, "heldout_id") for row in document.get("heldout", [])),
    )


def plays_from_reports(rows: list[dict]) -> tuple[Play, ...]:
    """Return the plays of a report list such as `zamio playlog --json` prints."""
    return tuple(_play(row, "track_id") for row in rows)


def _play(row: dict, id_key: str) -> Play:
    """Return one Play from a JSON row."""
    speed_ratio = row.get("speed_ratio")
    return Play(
        str(row[id_key]),
        float(row["start_s"]),
        float(row["end_s"]),
        None if speed_ratio is None else float(speed_ratio),
    )
