"""One airing, one play: which entry of one recording keeps an airing, and why it is recorded."""

from __future__ import annotations

from central.matching.index import TrackRef
from central.plays.same_recording import (
    ClosedSpan,
    choose,
    one_per_airing,
    recording_classes,
    same_airing,
)
from central.plays.timeline import ONLY_CANDIDATE, TimedPlay

FRAME_MS = 32
T0_MS = 1_790_000_000_000
ORIGINAL = TrackRef(3, "ORIG", "original", duration_frames=70_000 // FRAME_MS)
EDIT = TrackRef(9, "EDIT", "radio edit", duration_frames=40_000 // FRAME_MS)
OTHER = TrackRef(4, "OTHER", "another cut", duration_frames=40_000 // FRAME_MS)
TRACKS = {t.track_id: t for t in (ORIGINAL, EDIT, OTHER)}


def play(track: TrackRef, start_s: float, end_s: float, inliers: int = 500) -> TimedPlay:
    """A recomputed play of `track` between two seconds after T0_MS."""
    start_ms, end_ms = T0_MS + int(start_s * 1000), T0_MS + int(end_s * 1000)
    return TimedPlay(track.track_id, start_ms, end_ms, 1.0, inliers, 5, 0.9)


def test_original_aired_keeps_the_original_as_the_longest() -> None:
    """Issue 22: the original on air for 70 s also matches its 40 s edit inside it: one play,
    the original's, recorded as the longest span over the edit."""
    kept = one_per_airing([play(ORIGINAL, 0, 70), play(EDIT, 10, 50)], [], TRACKS)
    assert [(p.track_id, p.chosen_by) for p in kept] == [(3, "longest_span over track EDIT")]


def test_edit_aired_keeps_the_edit_as_the_whole_of_its_track() -> None:
    """The edit on air matches the original over the same 40 s: same span, but all of the edit
    and only part of the original was heard, so the edit keeps it (most_coverage)."""
    kept = one_per_airing([play(EDIT, 0, 40), play(ORIGINAL, 1, 40)], [], TRACKS)
    assert [(p.track_id, p.chosen_by) for p in kept] == [(9, "most_coverage over track ORIG")]


def test_full_tie_goes_to_the_earlier_registered_track() -> None:
    """Two 40 s cuts heard in full at once: nothing tells them apart but the lower track id."""
    winner, rule = choose([play(EDIT, 0, 40), play(OTHER, 0, 40)], TRACKS)
    assert (winner.track_id, rule) == (OTHER.track_id, "earliest_registered")


def test_several_losers_are_all_named() -> None:
    """An airing of three entries keeps one and names both others."""
    plays = [play(ORIGINAL, 0, 70), play(EDIT, 10, 50), play(OTHER, 12, 52)]
    kept = one_per_airing(plays, [], TRACKS)
    assert [p.chosen_by for p in kept] == ["longest_span over tracks EDIT, OTHER"]


def test_plays_that_only_touch_are_separate_airings() -> None:
    """The edit right after the original (a crossfade of a few seconds) is two airings, each
    its only candidate."""
    plays = [play(ORIGINAL, 0, 70), play(EDIT, 66, 106)]
    kept = one_per_airing(plays, [], TRACKS)
    assert [(p.track_id, p.chosen_by) for p in kept] == [(3, ONLY_CANDIDATE), (9, ONLY_CANDIDATE)]
    assert not same_airing(plays[0], plays[1])


def test_an_airing_with_a_closed_play_keeps_it() -> None:
    """A closed play is final: the other entry's recomputed play of that airing is dropped,
    even if it would have won."""
    closed = [ClosedSpan(EDIT.track_id, T0_MS + 10_000, T0_MS + 50_000)]
    assert one_per_airing([play(ORIGINAL, 0, 70)], closed, TRACKS) == []
    later = play(ORIGINAL, 300, 370)
    assert one_per_airing([later], closed, TRACKS) == [later]


def test_links_are_joined_into_recordings() -> None:
    """Links a-b and b-c make one recording of a, b and c; d-e another."""
    classes = recording_classes([(1, 2), (3, 2), (5, 4)])
    assert classes[1] == classes[2] == classes[3] == frozenset({1, 2, 3})
    assert classes[4] == frozenset({4, 5})
