"""After an outage the backlog drains oldest first at the capped rate, and live batches do not
wait behind it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge_agent.clock import now_ms
from edge_agent.settings import UplinkSettings
from edge_agent.spool import Spool
from edge_agent.uplink import Uplink, topic_for
from tests.integration.edge_agent.conftest import HOST, Broker, Collector, wait_until

pytestmark = pytest.mark.integration

BACKLOG = 60
RATE_PER_S = 10.0


def test_backlog_is_capped_oldest_first_and_live_goes_first(
    tmp_path: Path, broker: Broker, collector: Collector
) -> None:
    """60 old messages drain at <= 10/s in order; a live message arrives before they are done."""
    topic = topic_for("test-fm", "pi-test", "events")
    spool = Spool(tmp_path / "spool.db", bytes_max=10**8, age_ms_max=10**10)
    created_ms = now_ms() - 3_600_000  # an hour ago: backlog
    for n in range(BACKLOG):
        spool.put(topic, b'{"kind":"old","n":%d}' % n, now_ms=created_ms + n)
    settings = UplinkSettings(
        url=f"mqtt://{HOST}:{broker.port}", backlog_rate_max=RATE_PER_S, backoff_s_min=0.2
    )
    uplink = Uplink(settings, spool, device_id="pi-test", station_id="test-fm")
    uplink.start()
    try:
        wait_until(lambda: len(collector.events) >= 5, 10, "the backlog to start draining")
        started = time.monotonic()
        spool.put(topic, b'{"kind":"live","n":-1}', now_ms=now_ms())
        uplink.notify()
        wait_until(lambda: "live" in collector.event_kinds(), 5, "the live message")
        backlog_before_live = collector.event_kinds().index("live")
        assert backlog_before_live < BACKLOG  # it did not wait for the whole backlog
        time.sleep(1.0)
        elapsed_s = time.monotonic() - started
        old_so_far = collector.event_kinds().count("old")
        # a token bucket: at most one burst (RATE_PER_S) plus RATE_PER_S per second after it
        assert old_so_far <= 5 + RATE_PER_S * (1 + elapsed_s) + 2
        wait_until(lambda: collector.event_kinds().count("old") == BACKLOG, 20, "the backlog")
        order = [e["n"] for e in collector.events if e["kind"] == "old"]
        assert order == list(range(BACKLOG))
        wait_until(lambda: spool.stats().depth == 0, 5, "every PUBACK")
    finally:
        uplink.stop()
        spool.close()
