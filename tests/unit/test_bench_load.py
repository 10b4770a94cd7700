"""Tests of the pure parts of the load benchmark (bench/load.py, bench/loadgen.py): no servers."""

from __future__ import annotations

import math

import numpy as np

from bench import harness, load, loadgen
from edge_agent.batch import (
    WINDOW_FRAMES,
    BatchSource,
    batches_from_fingerprints,
    decode_batch,
    encode_batch,
    make_batch_id,
)
from edge_agent.fingerprint import FINGERPRINT_VERSION, Fingerprints


def pool(count: int = 3, hashes_per_batch: int = 200) -> list:
    """`count` consecutive batches of seeded random 21-bit hashes, as the pool is cut."""
    rng = np.random.default_rng(3)
    frame_end = count * WINDOW_FRAMES
    anchors = np.sort(rng.integers(0, frame_end, count * hashes_per_batch)).astype(np.uint32)
    prints = Fingerprints(rng.integers(0, 2**21, len(anchors), dtype=np.uint32), anchors)
    source = BatchSource("pool", "pool", FINGERPRINT_VERSION, 0)
    return batches_from_fingerprints(prints, source=source, frame_end=frame_end)


def plan(count: int, **changes) -> loadgen.Plan:
    """A plan for `count` stations, station i starting at pool batch i."""
    members = [loadgen.Station(i, f"st{i}", f"pi{i}", pool_start=i) for i in range(count)]
    fields = dict(host="127.0.0.1", port=1883, client_id="t", pool=pool(), stations=members,
                  station_count=count, t0_s=0.0, period_s=10.24, duration_s=30.0,
                  base_ms=1_700_000_000_000)  # fmt: skip
    fields.update(changes)
    return loadgen.Plan(**fields)


def test_lag_summary_gives_median_p95_and_max_and_nan_for_nothing():
    """Percentiles interpolate as numpy does; no lags gives NaN, not an error."""
    summary = load.lag_summary(np.arange(1.0, 101.0))
    assert summary == {"p50": 50.5, "p95": 95.05, "max": 100.0, "n": 100}
    empty = load.lag_summary([])
    assert math.isnan(empty["p50"]) and math.isnan(empty["max"]) and empty["n"] == 0


def test_lags_subtract_the_publish_time_and_skip_batches_not_done_or_not_published():
    """Only batches that were published and reached the column count."""
    published = {("pi0", 0): 100.0, ("pi0", 1): 110.0}
    rows = [
        {"device": "pi0", "seq": 0, "matched": 100.25},
        {"device": "pi0", "seq": 1, "matched": None},
        {"device": "warm", "seq": 0, "matched": 50.0},
    ]
    assert load.lags(published, rows, "matched") == [0.25]


def test_sustained_rate_when_the_pipeline_keeps_up_and_when_it_falls_behind():
    """Keeping up: done/s is the offered rate; behind: the capacity, a backlog and a drain."""
    published = [float(t) for t in range(11)]  # one batch a second for 10 s
    kept_up = load.sustained_rate(published, [t + 0.5 for t in published])
    assert kept_up["offered_per_s"] == 1.0 and kept_up["backlog_at_end"] == 1
    assert math.isclose(kept_up["done_per_s"], 11 / 10.5) and kept_up["drain_s"] == 0.5
    behind = load.sustained_rate(published, [2.0 * t + 1 for t in published])  # 0.5/s
    assert behind["backlog_at_end"] == 11 - 5 and behind["drain_s"] == 11.0
    assert math.isclose(behind["done_per_s"], 11 / 21)


def test_cpu_and_memory_per_role_count_each_pid_from_when_it_was_first_seen():
    """1 CPU s in 10 s is 10 %; a process that appears later counts only what it used since."""
    samples = [
        {"t": 0.0, "roles": {"worker": {1: (5.0, 100e6)}}},
        {"t": 5.0, "roles": {"worker": {1: (5.5, 100e6), 2: (9.0, 300e6)}}},
        {"t": 10.0, "roles": {"worker": {1: (6.0, 100e6), 2: (9.5, 300e6)}}},
    ]
    figures = harness.cpu_and_memory(samples)["worker"]
    assert math.isclose(figures["cpu_pct"], 15.0) and figures["processes"] == 2
    assert figures["rss_mb"] == 200.0 and figures["rss_mb_max"] == 200.0


def test_schedule_spreads_station_phases_over_one_period_and_stops_at_the_duration():
    """4 stations at 10.24 s: one batch every 2.56 s overall, each station every 10.24 s."""
    due = loadgen.schedule(4, 10.24, 20.48)
    assert [(i, k) for _, i, k in due] == [(i, k) for k in (0, 1) for i in range(4)]
    offsets = [t for t, _, _ in due]
    assert np.allclose(np.diff(offsets), 2.56) and offsets[-1] < 20.48
    faster = loadgen.schedule(4, 10.24 / 2, 20.48)  # x2: twice the batches in the same time
    assert len(faster) == 16


def test_restamp_keeps_the_hashes_and_moves_the_anchors_with_the_window():
    """A pool batch as another device's window 5: same hashes, same relative anchors, a new id."""
    original = pool()[2]
    batch = loadgen.restamp(original, device_id="pi7", source_id="fm", seq=5, window_start_ms=42)
    decoded = decode_batch(encode_batch(batch))
    assert np.array_equal(decoded.hashes, original.hashes)
    assert decoded.first_frame == 5 * WINDOW_FRAMES and decoded.window_start_ms == 42
    assert np.array_equal(
        decoded.anchor_frames - decoded.first_frame, original.anchor_frames - original.first_frame
    )
    assert decoded.batch_id == make_batch_id("pi7", "fm", 5) and decoded.device_id == "pi7"


def test_station_batches_cycle_the_pool_from_the_station_start_at_its_phase():
    """Station 1 of 2 starts at pool batch 1, wraps round, and its windows are half a period on."""
    the_plan = plan(2)
    station = the_plan.stations[1]
    batches = [loadgen.station_batch(the_plan, station, k) for k in range(4)]
    for k, batch in enumerate(batches):
        source = the_plan.pool[(1 + k) % len(the_plan.pool)]
        assert np.array_equal(batch.hashes, source.hashes) and batch.seq == k
        assert batch.window_start_ms == the_plan.base_ms + loadgen.WINDOW_MS // 2 + k * 10_240


def test_messages_are_this_publishers_stations_in_time_order_on_their_topics():
    """A publisher with stations 0 and 2 of 3 sends only theirs, each payload on its own topic."""
    the_plan = plan(3)
    mine = plan(3, stations=[the_plan.stations[0], the_plan.stations[2]])
    sent = loadgen.messages(mine)
    assert [t for t, *_ in sent] == sorted(t for t, *_ in sent)
    assert {device for *_, device, _ in sent} == {"pi0", "pi2"}
    assert len(sent) == 2 * 3  # 30 s at 10.24 s: batches at 0, 10.24 and 20.48 s (+ phase)
    for _, topic, payload, device, seq in sent:
        batch = decode_batch(payload)
        assert topic == f"stations/st{device[2:]}/devices/{device}/batches"
        assert (batch.device_id, batch.seq) == (device, seq)
