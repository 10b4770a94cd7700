"""A real Icecast stream: the agent's published hashes give the file's plays; the stream dying
and coming back, and dead air, show in the events and the retained status."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest

from central.matching.index import TrackRef, build_index
from central.plays.aggregate import build_plays
from central.plays.playlog import match_batches, playlog
from edge_agent.fingerprint import REFERENCE, fingerprint
from tests.integration.edge_agent.conftest import (
    Broker,
    Collector,
    Icecast,
    agent_toml,
    stop_process,
    wait_until,
)
from tests.synth import write_wav
from tests.transforms import pink_noise, song

pytestmark = pytest.mark.integration

RATE = 8000


def stream_source(url: str) -> str:
    return f'[[source]]\nid = "air"\nkind = "stream"\nurl = "{url}"\n'


def test_stream_hashes_give_the_files_plays(
    tmp_path: Path, broker: Broker, collector: Collector, icecast: Icecast, run_agent
) -> None:
    """Two songs streamed through Icecast (MP3) are recognised as when read from the file."""
    songs = [song(seed, 50.0) for seed in (21, 22, 23)]
    index = build_index(
        (TrackRef(i + 1, f"T{i + 1}", f"Song {i + 1}"), fingerprint(s, REFERENCE))
        for i, s in enumerate(songs)
    )
    lead_in = pink_noise(np.zeros(12 * RATE, np.float32) + 1e-3, 0.0, seed=1)
    audio = np.concatenate([lead_in, songs[0], songs[2], lead_in])
    path = write_wav(tmp_path / "show.wav", audio, RATE)
    agent = run_agent(
        agent_toml(
            broker.port, tmp_path / "spool.db", stream_source(icecast.url()), health="stall_s = 30"
        ),
    )
    time.sleep(0.5)  # the agent retries until the mount exists
    feeder = icecast.feed(["-i", str(path)], readrate=8)
    wait_until(lambda: feeder.poll() is not None, 60, "the feeder to finish")
    wait_until(lambda: "stream_down" in collector.event_kinds(), 20, "the end of the stream")
    agent.stop()  # flushes the last window
    wait_until(
        lambda: collector.statuses and collector.statuses[-1]["state"] == "offline",
        10,
        "the goodbye status",
    )
    streamed = build_plays(match_batches(index, collector.unique_batches()))
    from_file = playlog(index, path)
    assert [p.track.external_id for p in from_file] == ["T1", "T3"]
    assert [p.track.external_id for p in streamed] == ["T1", "T3"]
    for a, b in zip(streamed, from_file):
        assert abs(a.duration_s - b.duration_s) < 3.0
        assert abs(a.speed_ratio - 1.0) < 0.005


def test_stream_down_recovery_and_dead_air(
    tmp_path: Path, broker: Broker, collector: Collector, icecast: Icecast, run_agent
) -> None:
    """Killing the stream server shows as down within 15 s; back up, then silence is dead air."""
    path = write_wav(tmp_path / "music.wav", song(31, 20.0), RATE)
    icecast.feed(["-stream_loop", "-1", "-i", str(path)], readrate=1)
    run_agent(
        agent_toml(
            broker.port,
            tmp_path / "spool.db",
            stream_source(icecast.url()),
            health="stall_s = 5\ndead_air_s = 3",
        ),
    )
    wait_until(lambda: "stream_up" in collector.event_kinds(), 20, "stream_up")
    wait_until(lambda: len(collector.seqs()) >= 1, 20, "a first batch")
    killed_ms = int(time.time() * 1000)
    for feeder in icecast.feeders:
        stop_process(feeder, signal.SIGKILL)
    icecast.feeders = []
    stop_process(icecast.process, signal.SIGKILL)
    icecast.process = None

    def status_down() -> bool:
        latest = collector.statuses[-1] if collector.statuses else {}
        return latest.get("sources", {}).get("air", {}).get("state") == "down"

    wait_until(status_down, 15, "the retained status to say the stream is down")
    down = next(e for e in collector.events if e["kind"] == "stream_down")
    assert down["at_ms"] - killed_ms < 15_000
    assert down["detail"]["reason"] in ("ffmpeg_exit", "stalled")

    icecast.start()
    icecast.feed(["-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono"], readrate=1)
    wait_until(lambda: collector.event_kinds().count("stream_up") >= 2, 30, "recovery")
    wait_until(lambda: "dead_air" in collector.event_kinds(), 20, "dead air")
    dead = next(e for e in collector.events if e["kind"] == "dead_air")
    assert dead["source_id"] == "air" and dead["detail"]["silent_s"] >= 3.0
    wait_until(
        lambda: collector.statuses[-1]["sources"]["air"]["dead_air"] is True,
        10,
        "the status to show dead air",
    )
