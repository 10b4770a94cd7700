"""Every batch arrives: through a broker outage, and after the agent is killed with SIGKILL."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

from edge_agent.batch import BatchSource, HashBatch, batches_from_fingerprints
from edge_agent.decode import decode_file
from edge_agent.fingerprint import FINGERPRINT_VERSION, fingerprint_in_chunks
from edge_agent.spool import Spool
from tests.integration.edge_agent.conftest import (
    Broker,
    Collector,
    agent_toml,
    wait_until,
)
from tests.synth import chords, write_wav

pytestmark = pytest.mark.integration

RATE = 8000


def recording(tmp_path: Path, seconds: float, seed: int = 11) -> Path:
    """A 16-bit 8 kHz file, so ffmpeg's s16 capture and decode_file see the same samples."""
    return write_wav(tmp_path / "recording.wav", chords(seed, seconds, sample_rate_hz=RATE), RATE)


def offline_batches(path: Path) -> list[HashBatch]:
    """The batches the agent must send for the file: the same code path without capture."""
    found, frame_end = fingerprint_in_chunks(decode_file(path))
    source = BatchSource("pi-test", "rec", FINGERPRINT_VERSION, stream_start_ms=0)
    return batches_from_fingerprints(found, source=source, frame_end=frame_end)


def file_source(path: Path, readrate: float) -> str:
    return f'[[source]]\nid = "rec"\nkind = "file"\npath = "{path}"\nreadrate = {readrate}\n'


def assert_same_hashes(got: list[HashBatch], want: list[HashBatch]) -> None:
    """Batch for batch: seq, window and every hash equal."""
    assert [b.seq for b in got] == [b.seq for b in want]
    for a, b in zip(got, want):
        assert (a.first_frame, a.window_frames) == (b.first_frame, b.window_frames)
        assert np.array_equal(a.hashes, b.hashes)
        assert np.array_equal(a.anchor_frames, b.anchor_frames)


def spool_depth(path: Path) -> int:
    """Messages (batches and events) waiting in the agent's spool."""
    if not path.exists():
        return 0
    with Spool(path, bytes_max=10**9, age_ms_max=10**12) as spool:
        return spool.stats().depth


def spooled_seqs(path: Path, source_id: str) -> int:
    """How many batches of the source were ever spooled."""
    with Spool(path, bytes_max=10**9, age_ms_max=10**12) as spool:
        return spool.next_seq(source_id)


def test_broker_outage_loses_nothing(
    tmp_path: Path, broker: Broker, collector: Collector, run_agent
) -> None:
    """Minutes of audio captured while Mosquitto is down all arrive once it is back."""
    path = recording(tmp_path, 300.0)
    spool = tmp_path / "spool.db"
    toml = agent_toml(broker.port, spool, file_source(path, readrate=20))
    agent = run_agent(toml, "--exit-when-done")
    wait_until(lambda: len(collector.seqs()) >= 2, 20, "the first batches")
    broker.stop()
    # 9 s at 20x real time: three minutes of audio pile up in the spool
    wait_until(lambda: spool_depth(spool) >= 17, 30, "batches to pile up in the spool")
    broker.start()
    assert agent.wait(60) == 0, agent.text()
    want = offline_batches(path)
    wait_until(lambda: len(set(collector.seqs())) == len(want), 20, "every batch")
    assert_same_hashes(collector.unique_batches(), want)
    assert "connection lost" in agent.text() or "unreachable" in agent.text()
    assert spool_depth(spool) == 0


def test_sigkill_loses_at_most_the_window_being_captured(
    tmp_path: Path, broker: Broker, collector: Collector, run_agent
) -> None:
    """Batches spooled before kill -9 are sent by the next agent; seqs have no gap or repeat."""
    path = recording(tmp_path, 120.0)
    spool = tmp_path / "spool.db"
    broker.stop()  # nothing leaves: everything the first agent makes stays in its spool
    first = run_agent(agent_toml(broker.port, spool, file_source(path, readrate=10)))
    wait_until(lambda: spool_depth(spool) >= 4, 30, "batches in the spool")
    first.stop(signal.SIGKILL)
    spooled = spooled_seqs(spool, "rec")
    broker.start()
    second = run_agent(
        agent_toml(broker.port, spool, file_source(path, readrate=0)),
        "--exit-when-done",
        name="second",
    )
    assert second.wait(60) == 0, second.text()
    want = offline_batches(path)
    total = spooled + len(want)  # the second agent read the file again, from seq `spooled` on
    wait_until(lambda: len(set(collector.seqs())) >= total, 20, "every batch")
    got = collector.unique_batches()
    assert [b.seq for b in got] == list(range(total))
    assert_same_hashes(got[:spooled], want[:spooled])
    for batch, expected in zip(got[spooled:], want):
        assert np.array_equal(batch.hashes, expected.hashes)
