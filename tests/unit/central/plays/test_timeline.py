"""Plays on a station's UTC timeline: components, frame placement, coverage, reconciliation."""

from __future__ import annotations

import random

import pytest

from central.matching.index import TrackRef
from central.plays.timeline import (
    REACH_MS,
    SourceWindow,
    StoredDetection,
    StoredPlay,
    TimedPlay,
    component_plays,
    components,
    on_timeline,
    reconcile,
    source_settled,
)

FRAME_MS = 32
WINDOW_MS = 10_240
T0_MS = 1_790_000_000_000
SONG = TrackRef(7, "S", "song", duration_frames=180_000 // FRAME_MS)


def detection(start_ms: int, ref_ms: int, batch_first_frame: int, inliers: int = 80):
    """A window-long detection starting at UTC `start_ms` on reference ms `ref_ms`, whose batch
    numbers its frames from `batch_first_frame` (each agent restart numbers from 0)."""
    frames = WINDOW_MS // FRAME_MS
    first = batch_first_frame
    return StoredDetection(
        track_id=SONG.track_id,
        start_ms=start_ms,
        end_ms=start_ms + WINDOW_MS - FRAME_MS,
        query_first_frame=first,
        query_last_frame=first + frames - 1,
        inliers=inliers,
        query_hashes=300,
        speed_ratio=1.0,
        offset_frames=ref_ms / FRAME_MS - first,
    )


def song_on_air(start_ms: int, seconds: int, frame_base: int = 0) -> list[StoredDetection]:
    """Detections of every window of `seconds` of SONG from its top, aired at `start_ms`."""
    return [
        detection(start_ms + n * WINDOW_MS, n * WINDOW_MS, frame_base + n * 320)
        for n in range(seconds * 1000 // WINDOW_MS)
    ]


def test_components_split_only_at_gaps_beyond_reach() -> None:
    """Detections closer than REACH_MS stay together; a longer silence starts a new component."""
    first = song_on_air(T0_MS, 60)
    near = song_on_air(first[-1].end_ms + REACH_MS - 1_000, 30)
    far = song_on_air(near[-1].end_ms + REACH_MS + 1_000, 30)
    parts = components(far + near + first)
    assert [len(p) for p in parts] == [len(first) + len(near), len(far)]


def test_placement_ignores_how_each_batch_numbers_its_frames() -> None:
    """The same play seen through batches with unrelated frame numbers is the same play."""
    steady = song_on_air(T0_MS, 120, frame_base=0)
    restarted = [
        detection(d.start_ms, n * WINDOW_MS, frame_base)
        for n, (d, frame_base) in enumerate(
            zip(steady, [0, 5_000, 12, 99_999, 7, 7] + [40_000] * 20)
        )
    ]
    (a,) = component_plays(steady, SONG)
    (b,) = component_plays(restarted, SONG)
    assert (a.start_ms, a.end_ms) == (b.start_ms, b.end_ms)
    assert a.start_ms == pytest.approx(T0_MS, abs=FRAME_MS)
    assert a.speed_ratio == pytest.approx(1.0, abs=1e-6)


def test_reference_position_survives_placement() -> None:
    """On the timeline a detection still maps its first frame to the same reference frame."""
    d = detection(T0_MS + 5_000, 42_000, batch_first_frame=12_345)
    m = on_timeline(d, SONG, origin_ms=T0_MS)
    assert m.query_first_frame == round(5_000 / FRAME_MS)
    assert m.reference_frame_at(m.query_first_frame) == pytest.approx(42_000 / FRAME_MS)


def test_component_plays_are_the_same_in_any_order() -> None:
    """Batches arriving shuffled give the plays of batches arriving in order."""
    dets = song_on_air(T0_MS, 170) + song_on_air(T0_MS + 600_000, 90)
    shuffled = dets[:]
    random.Random(4).shuffle(shuffled)
    ordered = [p for c in components(dets) for p in component_plays(c, SONG)]
    mixed = [p for c in components(shuffled) for p in component_plays(c, SONG)]
    assert ordered == mixed and len(ordered) == 2


def test_a_song_restarted_on_air_is_two_timed_plays() -> None:
    """Issue 12: live plays follow the same restart rule as playlog: 104 s of SONG, then SONG
    again from its top for 36 s, in one component, are two plays."""
    first = song_on_air(T0_MS, 104)
    again_ms = first[-1].start_ms + WINDOW_MS
    again = song_on_air(again_ms, 40, frame_base=first[-1].query_first_frame + 320)
    plays = component_plays(first + again, SONG)
    assert len(components(first + again)) == 1
    assert [p.start_ms for p in plays] == [T0_MS, again_ms]


def windows(seqs: range, first_start_ms: int = T0_MS) -> list[SourceWindow]:
    """Consecutive windows numbered `seqs`, the first starting at `first_start_ms`."""
    return [
        SourceWindow(seq, first_start_ms + n * WINDOW_MS, first_start_ms + (n + 1) * WINDOW_MS)
        for n, seq in enumerate(seqs)
    ]


def test_a_source_settles_a_span_its_windows_cover() -> None:
    """Consecutive windows over the whole span settle it; a missing seq inside does not."""
    ws = windows(range(100, 130))
    end_ms = T0_MS + 29 * WINDOW_MS
    assert source_settled(ws, T0_MS, end_ms, has_before=False, has_after=False)
    assert not source_settled(ws[:10] + ws[11:], T0_MS, end_ms, False, False)
    assert not source_settled([], T0_MS, end_ms, True, True)


def test_a_window_still_to_come_keeps_the_span_open() -> None:
    """Windows stopping short of the span's end settle it only if the next seq has arrived
    (the agent was off) and not if it has not (a backlog on its way)."""
    ws = windows(range(100, 110))
    end_ms = T0_MS + 30 * WINDOW_MS
    assert not source_settled(ws, T0_MS, end_ms, has_before=False, has_after=False)
    assert source_settled(ws, T0_MS, end_ms, has_before=False, has_after=True)


def test_the_span_before_a_sources_first_window_has_nothing_to_wait_for() -> None:
    """Before seq 0 the source did not exist; before a later seq, only a present predecessor
    proves that nothing is missing."""
    ws = windows(range(0, 10), T0_MS + 60_000)
    late = windows(range(50, 60), T0_MS + 60_000)
    end_ms = T0_MS + 60_000 + 10 * WINDOW_MS
    assert source_settled(ws, T0_MS, end_ms, has_before=False, has_after=False)
    assert not source_settled(late, T0_MS, end_ms, has_before=False, has_after=False)
    assert source_settled(late, T0_MS, end_ms, has_before=True, has_after=False)


def test_a_rerun_of_the_same_file_settles_once_its_other_seqs_have_arrived() -> None:
    """Issue 12: the same file run twice with the same start gives seqs 0-58 and 59-117 over
    the same hours; a span's windows then skip seqs, which is no backlog once those arrived."""
    first_run = windows(range(0, 59))
    second_run = windows(range(59, 118))
    ws = first_run[40:] + second_run[40:]  # the last 19 windows of each run
    start_ms, end_ms = T0_MS + 40 * WINDOW_MS, T0_MS + 59 * WINDOW_MS
    assert not source_settled(ws, start_ms, end_ms, has_before=True, has_after=True)
    assert source_settled(ws, start_ms, end_ms, True, True, holes_arrived=True)


def play(start_s: int, end_s: int) -> TimedPlay:
    """A recomputed play of SONG between two offsets in seconds."""
    return TimedPlay(7, T0_MS + start_s * 1000, T0_MS + end_s * 1000, 1.0, 100, 5, 0.9)


def stored(play_id: int, start_s: int, end_s: int, closed: bool = False) -> StoredPlay:
    """A stored play between two offsets in seconds."""
    return StoredPlay(play_id, T0_MS + start_s * 1000, T0_MS + end_s * 1000, closed)


def test_reconcile_updates_the_open_play_it_overlaps_most() -> None:
    """A play that grew keeps its id; a new play is inserted; a vanished open play is deleted."""
    plan = reconcile([play(0, 200), play(400, 500)], [stored(1, 20, 150), stored(2, 900, 960)])
    assert plan.update == [(1, play(0, 200))]
    assert plan.insert == [play(400, 500)]
    assert plan.delete == [2]


def test_reconcile_never_touches_a_closed_play() -> None:
    """A closed play is final: what overlaps it is dropped; it is neither updated nor deleted."""
    plan = reconcile([play(0, 200), play(400, 500)], [stored(1, 20, 150, closed=True)])
    assert plan.update == [] and plan.delete == []
    assert plan.insert == [play(400, 500)]


def test_reconcile_of_the_same_plays_changes_nothing_but_their_shape() -> None:
    """Running again over unchanged detections updates each play with itself."""
    plan = reconcile([play(0, 200)], [stored(3, 0, 200)])
    assert plan.update == [(3, play(0, 200))] and not plan.insert and not plan.delete
