"""Tests of bench/score.py on hand-made timelines."""

from __future__ import annotations

import pytest

from bench.score import (
    Play,
    Truth,
    false_play_reason,
    is_candidate,
    match_plays,
    overlap_s,
    percentile,
    plays_from_reports,
    score,
    truth_from_document,
)


def test_overlap_of_touching_intervals_is_zero():
    """Intervals that only touch share no time and can never match."""
    a, b = Play("x", 0, 60), Play("x", 60, 120)
    assert overlap_s(a, b) == 0.0
    assert not is_candidate(a, b)


def test_exact_report_is_a_perfect_score():
    """A report equal to the only true play gives P = R = F1 = 1 and zero timing errors."""
    result = score(Truth((Play("a", 10, 100),)), (Play("a", 10, 100),))
    assert (result.tp, result.fp, result.fn) == (1, 0, 0)
    assert (result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0)
    assert result.start_error_s_median == 0.0 and result.end_error_s_p95 == 0.0


def test_wrong_track_is_a_false_positive_and_a_miss():
    """A report of another track over a true play counts once as FP ("other") and once as FN."""
    result = score(Truth((Play("a", 0, 100),)), (Play("b", 0, 100),))
    assert (result.tp, result.fp, result.fn) == (0, 1, 1)
    assert result.false_plays[0].reason == "other"
    assert result.f1 == 0.0


def test_overlap_below_half_of_both_does_not_match():
    """A report overlapping under half of the true play and under half of itself is no match."""
    true, reported = Play("a", 0, 100), Play("a", 60, 160)
    assert overlap_s(true, reported) == 40.0
    assert not is_candidate(reported, true)


def test_half_of_the_reported_play_is_enough():
    """A short report lying inside a long true play matches (overlap = all of the report)."""
    assert is_candidate(Play("a", 100, 140), Play("a", 0, 300))


def test_half_of_the_true_play_is_enough():
    """A long report covering a short true play matches (overlap = all of the true play)."""
    assert is_candidate(Play("a", 0, 300), Play("a", 100, 140))


def test_exactly_half_matches():
    """Overlap of exactly 50 % of the shorter interval is enough."""
    assert is_candidate(Play("a", 50, 150), Play("a", 0, 100))


def test_two_reports_of_one_play_give_one_duplicate():
    """Matching is one-to-one: a play reported twice is one TP and one "duplicate" FP."""
    truth = Truth((Play("a", 0, 200),))
    result = score(truth, (Play("a", 0, 90), Play("a", 100, 200)))
    assert (result.tp, result.fp, result.fn) == (1, 1, 0)
    assert result.duplicate_false_plays == 1


def test_merged_back_to_back_repeat_matches_the_larger_overlap():
    """One report spanning two plays of the same track takes the one it overlaps most."""
    truth = Truth((Play("a", 0, 60), Play("a", 60, 200)))
    result = score(truth, (Play("a", 0, 200),))
    assert result.tp == 1 and result.fn == 1
    assert result.matches[0].true == Play("a", 60, 200)
    assert result.missed == (Play("a", 0, 60),)


def test_greedy_matching_takes_largest_overlap_first():
    """Pairs are taken by decreasing overlap, so each report ends with its best free play."""
    true_plays = (Play("a", 0, 100), Play("a", 100, 200))
    reported = (Play("a", 40, 140), Play("a", 90, 200))
    assert match_plays(true_plays, reported) == [(1, 1), (0, 0)]


def test_greedy_matching_is_not_maximum_matching():
    """Greedy by overlap may leave a pair unmatched that a maximum matching would keep."""
    true_plays = (Play("a", 0, 100), Play("a", 100, 200))
    reported = (Play("a", 30, 150), Play("a", 0, 60))
    assert match_plays(true_plays, reported) == [(0, 0)]


def test_report_over_heldout_music_is_a_heldout_false_play():
    """A report lying mostly over held-out music counts as a held-out false play."""
    truth = Truth((Play("a", 0, 100),), heldout=(Play("h1", 100, 300),))
    result = score(truth, (Play("a", 0, 100), Play("b", 120, 260)))
    assert result.heldout_false_plays == 1
    assert result.precision == 0.5


def test_report_partly_over_heldout_is_not_blamed_on_it():
    """A false report overlapping held-out music for less than half its length is "other"."""
    truth = Truth((), heldout=(Play("h1", 0, 40),))
    assert false_play_reason(Play("b", 20, 100), truth) == "other"


def test_report_of_a_short_segment_is_a_false_positive():
    """Catalogue music aired under 30 s must not be logged; reporting it is a "short" FP."""
    truth = Truth((Play("a", 0, 100),), short=(Play("s", 100, 120),))
    result = score(truth, (Play("s", 98, 125),))
    assert (result.tp, result.fp, result.fn) == (0, 1, 1)
    assert result.short_false_plays == 1


def test_nothing_reported():
    """With no reports precision is 1.0 by definition, recall and F1 are 0."""
    result = score(Truth((Play("a", 0, 100),)), ())
    assert (result.precision, result.recall, result.f1) == (1.0, 0.0, 0.0)
    assert result.start_error_s_median is None


def test_nothing_on_air_and_nothing_reported():
    """An empty truth with no reports is perfect."""
    result = score(Truth(()), ())
    assert (result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0)


def test_start_and_end_errors():
    """Timing errors are absolute differences, summarised by median and linear p95."""
    truth = Truth(tuple(Play(f"t{i}", 100 * i, 100 * i + 60) for i in range(5)))
    starts_late_s = [0, 1, 2, 3, 10]
    reported = tuple(
        Play(f"t{i}", 100 * i + d, 100 * i + 60 - d / 2) for i, d in enumerate(starts_late_s)
    )
    result = score(truth, reported)
    assert result.start_error_s_median == 2.0
    assert result.start_error_s_p95 == pytest.approx(3 + 0.8 * 7)
    assert result.end_error_s_median == 1.0


def test_speed_ratio_error():
    """The speed ratio error is the median absolute difference over matches that carry one."""
    truth = Truth((Play("a", 0, 100, 1.03), Play("b", 200, 300, 1.0)))
    reported = (Play("a", 0, 100, 1.02), Play("b", 200, 300, None))
    assert score(truth, reported).speed_ratio_error_median == pytest.approx(0.01)


def test_percentile_of_nothing_is_none():
    """Percentiles of an empty list are None, not an exception."""
    assert percentile([], 50) is None


def test_documents_are_parsed():
    """Truth documents and playlog reports turn into Plays, held-out rows keyed by heldout_id."""
    document = {
        "plays": [{"track_id": "a", "start_s": 0, "end_s": 50, "speed_ratio": 1.02}],
        "short": [{"track_id": "b", "start_s": 50, "end_s": 60}],
        "heldout": [{"heldout_id": "h", "start_s": 60, "end_s": 200}],
    }
    truth = truth_from_document(document)
    assert truth.plays == (Play("a", 0.0, 50.0, 1.02),)
    assert truth.heldout == (Play("h", 60.0, 200.0),)
    reports = plays_from_reports([{"track_id": "a", "title": "A", "start_s": 1, "end_s": 49}])
    assert score(truth, reports).tp == 1


def test_as_dict_without_details():
    """The summary dict leaves out the per-play lists."""
    summary = score(Truth((Play("a", 0, 100),)), ()).as_dict(details=False)
    assert "matches" not in summary and summary["fn"] == 1
