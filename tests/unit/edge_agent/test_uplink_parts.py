"""The uplink's pure parts, the clock reading and systemd notify: backoff, topics, sync state."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from edge_agent import systemd
from edge_agent.batch import ClockSyncState
from edge_agent.clock import STA_NANO, TIME_ERROR, interpret, read_clock_status
from edge_agent.uplink import backoff_s, offline_status, topic_for


def test_backoff_grows_with_full_jitter_and_stays_bounded() -> None:
    """Delays stay within [base, min(cap, base * 2**n)] and spread out (full jitter)."""
    rng = random.Random(1)
    for attempt in range(12):
        ceiling = min(60.0, 1.0 * 2**attempt)
        delays = [backoff_s(attempt, 1.0, 60.0, rng) for _ in range(200)]
        assert all(1.0 <= d <= ceiling for d in delays)
        if ceiling > 4:
            assert max(delays) - min(delays) > ceiling / 2
    assert backoff_s(10_000, 1.0, 60.0, rng) <= 60.0


def test_topics_and_offline_status() -> None:
    """Topics follow stations/{station}/devices/{device}/{kind}; the will says offline."""
    assert topic_for("joy-fm", "pi-01", "batches") == "stations/joy-fm/devices/pi-01/batches"
    assert topic_for("joy-fm", "pi-01", "commands") == "stations/joy-fm/devices/pi-01/commands"
    with pytest.raises(AssertionError):
        topic_for("joy-fm", "pi-01", "secrets")
    assert b'"state":"offline"' in offline_status("pi-01", "joy-fm", "shutdown")


def test_clock_interpretation() -> None:
    """TIME_ERROR or a large estimated error is unsynced; offsets convert from us or ns."""
    assert interpret(0, 2500, 0, 1000).sync_state == ClockSyncState.SYNCED
    assert interpret(0, 2600, 0, 1000).offset_ms == 3
    assert interpret(0, 2_600_000, STA_NANO, 1000).offset_ms == 3
    assert interpret(TIME_ERROR, 0, 0, 0).sync_state == ClockSyncState.UNSYNCED
    assert interpret(0, 0, 0, 2_000_000).sync_state == ClockSyncState.UNSYNCED
    assert read_clock_status().sync_state in set(ClockSyncState)  # the real kernel answers


def test_systemd_notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """READY=1 reaches the notify socket; without NOTIFY_SOCKET nothing is sent."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert systemd.notify("READY=1") is True
        assert server.recv(64) == b"READY=1"
