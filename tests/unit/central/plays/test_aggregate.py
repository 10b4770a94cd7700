"""Play building from hand-made matches: merging, gaps, repeats, choruses, the 30 s rule."""

from __future__ import annotations

import numpy as np
import pytest

from central.matching.index import TrackRef
from central.matching.matcher import STRONG_INLIERS_MIN, Match
from central.plays.aggregate import (
    EDGE_PAD_FRAMES,
    GAP_MAX_S,
    LINE_GAP_MAX_S,
    PLAY_S_MIN,
    build_plays,
)

FPS = 1000.0 / 32.0  # frames per second
A = TrackRef(1, "A", "track A", duration_frames=int(200 * FPS))
B = TrackRef(2, "B", "track B", duration_frames=int(100 * FPS))
WINDOW_S = 10.24
PAD_S = EDGE_PAD_FRAMES / FPS  # the last hash's peaks follow its anchor


def match(
    track: TrackRef,
    start_s: float,
    ref_s: float,
    inliers: int = 60,
    speed: float = 1.0,
    length_s: float = WINDOW_S,
) -> Match:
    """A match whose window starts at broadcast `start_s` and reference second `ref_s`."""
    first = int(round(start_s * FPS))
    return Match(
        track=track,
        inliers=inliers,
        query_hashes=250,
        speed_ratio=speed,
        offset_frames=ref_s * FPS - speed * first,
        query_first_frame=first,
        query_last_frame=first + int(length_s * FPS) - 1,
    )


def run(
    track: TrackRef,
    start_s: float,
    ref_s: float,
    seconds: float,
    speed: float = 1.0,
    skip: tuple[int, ...] = (),
) -> list[Match]:
    """Consecutive window matches covering `seconds` of one play."""
    out = []
    n = int(seconds // WINDOW_S)
    for i in range(n):
        if i not in skip:
            out.append(
                match(track, start_s + i * WINDOW_S, ref_s + i * WINDOW_S * speed, speed=speed)
            )
    return out


def test_consecutive_windows_make_one_play() -> None:
    """A track matched in every window of 3 minutes is one play with its span."""
    plays = build_plays(run(A, 100.0, 0.0, 180.0))
    assert len(plays) == 1
    assert plays[0].start_s == pytest.approx(100.0, abs=0.1)
    assert plays[0].end_s == pytest.approx(100.0 + 17 * WINDOW_S + PAD_S, abs=0.1)


def test_gap_inside_a_play_is_bridged() -> None:
    """A DJ over part of a song (windows missing) does not split the play."""
    plays = build_plays(run(A, 0.0, 0.0, 180.0, skip=(5, 6)))
    assert len(plays) == 1


def test_long_gap_on_the_same_line_is_still_one_play() -> None:
    """A minute of noise over a quiet passage: evidence resumes on the same line, one play."""
    first = run(A, 0.0, 0.0, 61.44)
    resume_s = 61.44 + 60.0
    second = run(A, resume_s, resume_s, 61.44)
    assert len(build_plays(first + second)) == 1


def test_evidence_beyond_the_line_gap_limit_splits() -> None:
    """Evidence further apart than LINE_GAP_MAX_S is two plays even on one line."""
    first = run(A, 0.0, 0.0, 61.44)
    later_s = 61.44 + LINE_GAP_MAX_S + 10.0
    second = run(A, later_s, later_s, 61.44)
    assert len(build_plays(first + second)) == 2


def test_other_alignment_after_a_gap_splits() -> None:
    """After more than GAP_MAX_S, the same track at another alignment is another play."""
    first = run(A, 0.0, 0.0, 61.44)
    second = run(A, 61.44 + GAP_MAX_S + 5.0, 0.0, 61.44)
    assert len(build_plays(first + second)) == 2


def test_track_played_twice_in_a_row_is_two_plays() -> None:
    """The same track restarting right after itself is a second play."""
    plays = build_plays(run(A, 0.0, 0.0, 120.0) + run(A, 122.88, 0.0, 120.0))
    assert [p.track for p in plays] == [A, A]
    assert plays[1].start_s > plays[0].end_s - 1.0


def test_repeated_chorus_is_not_a_second_play() -> None:
    """A window also matching the chorus's other occurrence does not log another play."""
    main = run(A, 0.0, 0.0, 180.0)
    chorus = [match(A, 90 + i * WINDOW_S, 30.0 + i * WINDOW_S, inliers=40) for i in range(4)]
    plays = build_plays(main + chorus)
    assert len(plays) == 1


def test_short_plays_are_not_logged() -> None:
    """Under PLAY_S_MIN on air is not a play, even with strong evidence."""
    assert build_plays(run(A, 0.0, 0.0, 2 * WINDOW_S)) == []
    assert PLAY_S_MIN == 30.0


def test_weak_evidence_alone_never_makes_a_play() -> None:
    """Without a single strong window, consistent weak matches stay unlogged."""
    weak = [match(A, i * WINDOW_S, i * WINDOW_S, inliers=STRONG_INLIERS_MIN - 1) for i in range(10)]
    assert build_plays(weak) == []


def test_weak_edges_extend_a_strong_play() -> None:
    """A weak match on the line before the first strong window moves the start earlier."""
    strong = run(A, 20.0, 45.0, 60.0)
    edge = match(A, 15.0, 40.0, inliers=6, length_s=5.0)
    plays = build_plays([edge, *strong])
    assert plays[0].start_s == pytest.approx(15.0, abs=0.1)


def test_chance_match_of_another_alignment_is_dropped() -> None:
    """A single stray window of another track inside a play is not logged."""
    plays = build_plays(run(A, 0.0, 0.0, 120.0) + [match(B, 40.0, 77.0, inliers=25)])
    assert [p.track for p in plays] == [A]


def test_crossfade_keeps_both_tracks() -> None:
    """Two tracks overlapping for a few seconds are both logged."""
    plays = build_plays(run(A, 0.0, 0.0, 92.16) + run(B, 87.0, 0.0, 92.16))
    assert [p.track for p in plays] == [A, B]


def test_speed_is_estimated_across_the_play() -> None:
    """The play's speed ratio comes from the line through all its windows."""
    plays = build_plays(run(A, 0.0, 0.0, 180.0, speed=1.03))
    assert plays[0].speed_ratio == pytest.approx(1.03, abs=1e-3)


def test_loop_based_track_matching_many_alignments_is_one_play() -> None:
    """Windows matching a looped track at a different repetition each time make one play."""
    rng = np.random.default_rng(4)
    loop_s = 8.0
    windows = []
    for i in range(15):
        start_s = 20.0 + i * WINDOW_S
        true_ref_s = i * WINDOW_S
        shift = float(rng.integers(-3, 4)) * loop_s  # which repetition this window matched best
        windows.append(match(A, start_s, true_ref_s + shift, inliers=int(rng.integers(40, 90))))
    plays = build_plays(windows)
    assert len(plays) == 1
    assert plays[0].start_s == pytest.approx(20.0, abs=0.1)
    assert plays[0].end_s == pytest.approx(20.0 + 15 * WINDOW_S + PAD_S, abs=0.1)


def test_full_track_played_twice_is_not_merged_as_a_loop() -> None:
    """Two back-to-back full plays exceed one play of the track, so they stay two."""
    first = run(A, 0.0, 0.0, 196.0)
    second = run(A, 197.0, 0.0, 196.0)
    assert len(build_plays(first + second)) == 2


def test_edges_extend_to_the_track_top_and_tail() -> None:
    """Evidence from 4 s into the track and to 4 s before its end: the play spans the track."""
    duration_s = 200.0
    windows = run(A, 104.0, 4.0, 195.0)  # 19 windows; broadcast 100 s is the track top
    plays = build_plays(windows)
    assert plays[0].start_s == pytest.approx(100.0, abs=0.1)
    assert plays[0].end_s == pytest.approx(100.0 + duration_s, abs=0.2)


def test_partial_play_edges_are_not_extrapolated() -> None:
    """A play that starts 60 s into the track keeps its evidence start."""
    plays = build_plays(run(A, 100.0, 60.0, 61.44))
    assert plays[0].start_s == pytest.approx(100.0, abs=0.1)


def test_restart_from_the_top_within_the_track_length_is_a_second_play() -> None:
    """Issue 12: 104 s of A, then A again from 0:00 at +3.8 % for 36 s: two plays, not one
    2:13 play, although both together would fit in one play of the 200 s track."""
    first = run(A, 0.0, 0.0, 104.0)
    restart_s = 10 * WINDOW_S
    second = run(A, restart_s, 0.0, 36.0, speed=1.038)
    plays = build_plays(first + second)
    assert [p.track for p in plays] == [A, A]
    assert plays[0].end_s == pytest.approx(restart_s + PAD_S, abs=0.1)
    assert plays[1].start_s == pytest.approx(restart_s, abs=0.1)
    assert plays[1].speed_ratio == pytest.approx(1.038, abs=1e-3)


def test_jump_back_to_an_earlier_point_is_a_second_play() -> None:
    """A from 1:00 for 61 s, then from 0:20 again for 41 s: the line jumps back, two plays."""
    first = run(A, 0.0, 60.0, 61.44)
    second = run(A, 61.44, 20.0, 40.96)
    assert len(build_plays(first + second)) == 2


def test_jump_back_to_a_point_inside_the_airing_stays_one_play() -> None:
    """A from 0:00 for 61 s, then 41 s on a line 30 s behind (a loop repeating): no restart, as
    the line never goes back to where the airing began; one play."""
    windows = run(A, 0.0, 0.0, 61.44) + run(A, 61.44, 31.44, 40.96)
    plays = build_plays(windows)
    assert len(plays) == 1
    assert plays[0].end_s == pytest.approx(61.44 + 4 * WINDOW_S + PAD_S, abs=0.1)


def test_short_jump_back_of_a_loop_stays_one_play() -> None:
    """A loop window matching one repetition back, inside a play, is not a restart."""
    windows = run(A, 0.0, 0.0, 61.44) + [match(A, 61.44, 61.44 - 8.0)] + run(A, 71.68, 71.68, 40.96)
    assert len(build_plays(windows)) == 1
