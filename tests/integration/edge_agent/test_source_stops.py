"""The agent says where a source's audio stops: source_ended at the end of a file and
source_stopped on SIGTERM, each with the seq of the source's last batch, and on SIGTERM it
publishes what is left in its spool before saying goodbye."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from edge_agent.spool import Spool
from tests.integration.edge_agent.conftest import Broker, Collector, agent_toml, wait_until
from tests.synth import chords, write_wav

pytestmark = pytest.mark.integration

RATE = 8000


def file_source(path: Path, readrate: float, loop: bool = False) -> str:
    looping = "loop = true\n" if loop else ""
    return (
        f'[[source]]\nid = "rec"\nkind = "file"\npath = "{path}"\nreadrate = {readrate}\n{looping}'
    )


def recording(tmp_path: Path, seconds: float) -> Path:
    return write_wav(tmp_path / "rec.wav", chords(47, seconds, sample_rate_hz=RATE), RATE)


def event_of(collector: Collector, kind: str) -> dict:
    wait_until(lambda: kind in collector.event_kinds(), 10, f"a {kind} event")
    with collector.lock:
        (event,) = [e for e in collector.events if e["kind"] == kind]
    return event


def spool_depth(path: Path) -> int:
    with Spool(path, bytes_max=10**9, age_ms_max=10**12) as spool:
        return spool.stats().depth


def test_source_ended_carries_the_last_batch_seq(
    tmp_path: Path, broker: Broker, collector: Collector, run_agent
) -> None:
    """The end of a file is published as source_ended whose seq_last is its last batch's seq."""
    spool = tmp_path / "spool.db"
    toml = agent_toml(broker.port, spool, file_source(recording(tmp_path, 35.0), readrate=0))
    agent = run_agent(toml, "--exit-when-done")
    assert agent.wait(60) == 0, agent.text()
    ended = event_of(collector, "source_ended")
    wait_until(lambda: len(collector.seqs("rec")) >= 4, 10, "every batch")
    assert set(collector.seqs("rec")) == {0, 1, 2, 3}  # 35 s: three windows and a short one
    assert (ended["source_id"], ended["detail"]) == ("rec", {"seq_last": 3})


def test_sigterm_publishes_source_stopped_and_drains_the_spool(
    tmp_path: Path, broker: Broker, collector: Collector, run_agent
) -> None:
    """SIGTERM on a looping file source: the last window and a source_stopped whose seq_last is
    the last published batch's seq reach the broker before the agent exits; nothing is left in
    the spool."""
    spool = tmp_path / "spool.db"
    source = file_source(recording(tmp_path, 30.0), 10, loop=True)
    # One message in flight: the uplink's last round before its goodbye cannot send both the
    # last window and the event, so they arrive only if the agent drains its spool first.
    toml = agent_toml(broker.port, spool, source, uplink="inflight_max = 1")
    agent = run_agent(toml)
    wait_until(lambda: len(collector.seqs("rec")) >= 3, 30, "the first batches")
    agent.stop(signal.SIGTERM)
    assert "agent pi-test: stopped" in agent.text()
    stopped = event_of(collector, "source_stopped")
    seqs = set(collector.seqs("rec"))
    assert seqs == set(range(max(seqs) + 1))
    assert (stopped["source_id"], stopped["detail"]) == ("rec", {"seq_last": max(seqs)})
    assert spool_depth(spool) == 0
    assert "source_ended" not in collector.event_kinds()
