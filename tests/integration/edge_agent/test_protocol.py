"""The uplink over MQTT 3.1.1 (`[uplink] protocol`), as for central's embedded broker, which
speaks nothing newer: a persistent session, and every batch delivered."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.spool import Spool
from tests.integration.edge_agent.conftest import Broker, Collector, agent_toml, wait_until
from tests.synth import chords, write_wav

pytestmark = pytest.mark.integration

RATE = 8000


def test_agent_over_mqtt_311_delivers_every_batch(
    tmp_path: Path, broker: Broker, collector: Collector, run_agent
) -> None:
    """With protocol "3.1.1" the agent logs in as an MQTT 3.1.1 client with a persistent
    session (clean_session=False) and its batches and events arrive."""
    path = write_wav(tmp_path / "rec.wav", chords(43, 40.0, sample_rate_hz=RATE), RATE)
    spool = tmp_path / "spool.db"
    source = f'[[source]]\nid = "rec"\nkind = "file"\npath = "{path}"\nreadrate = 0\n'
    toml = agent_toml(broker.port, spool, source, uplink='protocol = "3.1.1"')
    agent = run_agent(toml, "--exit-when-done")
    assert agent.wait(60) == 0, agent.text()
    with Spool(spool, bytes_max=10**9, age_ms_max=10**12) as opened:
        spooled = opened.next_seq("rec")
        assert opened.stats().depth == 0
    assert spooled == 4  # 40 s: three full 10.24 s windows and a short one
    wait_until(lambda: len(set(collector.seqs("rec"))) == spooled, 10, "every batch")
    wait_until(lambda: "source_ended" in collector.event_kinds(), 10, "the end event")
    log = (broker.workdir / "mosquitto.log").read_text()
    # mosquitto writes the protocol level (p2: MQTT 3.1.1, p5: MQTT 5) and the clean flag
    assert "as zamio-agent-pi-test (p2, c0," in log, log
