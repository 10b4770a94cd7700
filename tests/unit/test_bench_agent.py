"""Tests of the pure parts of the agent benchmark (bench/agent.py): no servers, no real time."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from bench import agent as bench
from edge_agent.batch import BatchSource, batches_from_fingerprints, encode_batch
from edge_agent.fingerprint import FINGERPRINT_VERSION, Fingerprints
from edge_agent.settings import parse_settings

TOPIC = "stations/bench-fm-0/devices/pi-bench-01"


def payloads(count: int, hashes_per_batch: int = 300) -> list[bytes]:
    """Wire bytes of `count` consecutive batches of seeded random hashes."""
    rng = np.random.default_rng(7)
    frame_end = count * bench.WINDOW_FRAMES
    anchors = np.sort(rng.integers(0, frame_end, count * hashes_per_batch)).astype(np.uint32)
    prints = Fingerprints(rng.integers(0, 2**32, len(anchors), dtype=np.uint32), anchors)
    source = BatchSource("pi-bench-01", "s0", FINGERPRINT_VERSION, 1_700_000_000_000)
    batches = batches_from_fingerprints(prints, source=source, frame_end=frame_end)
    return [encode_batch(b) for b in batches]


def sample(wall_s: float, agent_cpu_s: float, children: dict[int, float]) -> dict:
    return {"wall_s": wall_s, "agent_cpu_s": agent_cpu_s, "children": children,
            "agent_rss": 70_000_000, "ffmpeg_rss": 20_000_000 * len(children),
            "pss": 80_000_000}  # fmt: skip


def test_intervals_give_cpu_percent_of_one_core_and_count_a_restarted_child_whole():
    """0.5 CPU s in 5 s is 10 %; a child that appeared in the interval counts all its CPU time."""
    samples = [sample(0.0, 1.0, {11: 2.0}), sample(5.0, 1.5, {11: 2.1}),
               sample(10.0, 1.6, {12: 0.2})]  # fmt: skip
    first, second = bench.intervals(samples)
    assert round(first["agent_cpu"], 6) == 10.0 and round(first["ffmpeg_cpu"], 6) == 2.0
    assert round(second["agent_cpu"], 6) == 2.0 and round(second["ffmpeg_cpu"], 6) == 4.0
    assert first["both_rss"] == 90_000_000 and second["ffmpegs"] == 1


def test_publish_bytes_count_the_mqtt5_qos1_framing():
    """Header 1 + remaining length (1 byte below 128, 2 from 128) + topic + packet id + props."""
    assert bench.publish_bytes("a/b", 10) == 1 + 1 + (2 + 3 + 2 + 1 + 10)
    assert bench.publish_bytes("a/b", 200) == 1 + 2 + (2 + 3 + 2 + 1 + 200)


def test_upload_scales_each_kind_to_a_station_hour():
    """Batches x 3600/10.24 s, status per heartbeat / N stations, events at their window rate."""
    batch = payloads(1)[0]
    received = [(5.0, f"{TOPIC}/status", b"x" * 900), (15.0, f"{TOPIC}/batches", batch),
                (20.0, f"{TOPIC}/events", b"e" * 100), (80.0, f"{TOPIC}/events", b"e" * 100),
                (60.0, f"{TOPIC}/status", b"x" * 1100)]  # fmt: skip
    result = bench.upload(received, (10.0, 70.0), streams=2, heartbeat_s=60.0)
    assert result["hashes_per_batch"] == 300
    assert result["batches_payload"] == len(batch) * 3600 / 10.24
    assert result["status_payload"] == 1000 * 60 / 2  # mean size, 60 a device-hour, 2 stations
    assert result["events_messages"] == 1 and result["events_payload"] == 100 * 60 / 2
    total = result["batches_payload"] + result["status_payload"] + result["events_payload"]
    assert result["total_payload"] == total < result["total_mqtt"]


def test_offline_week_spools_every_batch_and_drains_them_all(tmp_path: Path):
    """A small spool run: every batch stored and then acknowledged; the file holds the payloads."""
    week = bench.offline_week(payloads(3), hours=0.05, workdir=tmp_path)
    assert week["batches"] == round(0.05 * 3600 / 10.24) == week["drained"]
    assert week["file_bytes"] >= week["payload_bytes"] > 0 and week["overhead_per_message"] > 0


def test_agent_config_is_accepted_by_the_agent_settings(tmp_path: Path):
    """The TOML the benchmark writes passes the agent's validation: N stream sources, N stations."""
    urls = ["http://127.0.0.1:8000/s0.mp3", "http://127.0.0.1:8000/s1.mp3"]
    text = bench.agent_toml(1883, tmp_path / "spool.db", urls, heartbeat_s=60.0)
    settings = parse_settings(tomllib.loads(text), {})
    assert [s.url for s in settings.sources] == urls
    assert [s.station_id for s in settings.sources] == ["bench-fm-0", "bench-fm-1"]
    assert settings.uplink.port == 1883 and settings.uplink.heartbeat_s == 60.0


def test_report_prints_the_three_tables_and_a_verdict_per_target(tmp_path: Path):
    """Two fake runs and a small week give every table, and verdicts computed from the figures."""
    runs = []
    for streams, agent_cpu_s in ((1, 0.1), (2, 0.15)):
        samples = [sample(5.0 * k, agent_cpu_s * k, {11: 0.01 * k}) for k in range(4)]
        for s in samples:
            s["agent_rss"] += (streams - 1) * 2_000_000
        received = [
            (5.0, f"{TOPIC}/status", b"x" * 900),
            (12.0, f"{TOPIC}/batches", payloads(1)[0]),
        ]
        runs.append({"streams": streams, "origin": "test", "intervals": bench.intervals(samples),
                     "upload": bench.upload(received, (10.0, 25.0), streams, 60.0)})  # fmt: skip
    week = {**bench.offline_week(payloads(2), 0.02, tmp_path), "origin": "test"}
    text = bench.report(runs, week, 0.02)
    for title in ("1. CPU", "2. Upload per station-hour", "3. 0.02 h offline"):
        assert title in text
    assert "CPU per stream, agent + its ffmpeg (worst N): 2.2% (target <= 3%): met" in text
    assert (
        "RSS of the agent process alone, per extra stream (worst N): 2 MB (target <= 15 MB): met"
        in text
    )
    assert "RSS of agent + ffmpeg, 1 stream: 90 MB (target <= 120 MB): met" in text
    assert "upload per station-hour with MQTT framing (worst N): 0.6" in text and "NOT MET" in text
