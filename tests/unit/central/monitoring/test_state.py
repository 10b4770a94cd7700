"""Judging health: a device's state from its latest status and the time, which status wins, and
each source's state."""

from __future__ import annotations

import pytest

from central.monitoring.health import parse_status
from central.monitoring.state import (
    HEARTBEAT_S_DEFAULT,
    MISSED_HEARTBEATS_MAX,
    Seen,
    device_report,
    device_state,
    seen_ms,
    source_state,
    source_states,
    stale_after_ms,
    supersedes,
)
from tests.unit.central.monitoring.payloads import (
    NOW_MS,
    STARTED_MS,
    heartbeat,
    heartbeat_body,
    offline,
    source_body,
)

WINDOW_MS = round(MISSED_HEARTBEATS_MAX * HEARTBEAT_S_DEFAULT * 1000)  # 150 s


def online(last_seen_ms: int = NOW_MS, **fields) -> Seen:
    fields.setdefault("sent_ms", last_seen_ms)
    fields.setdefault("started_ms", STARTED_MS)
    return Seen("online", last_seen_ms, **fields)


def test_stale_window_is_two_and_a_half_heartbeats() -> None:
    """The default window is 150 s; a status that says its interval scales the window."""
    assert stale_after_ms(None) == WINDOW_MS == 150_000
    assert stale_after_ms(10.0) == 25_000


@pytest.mark.parametrize(
    ("seen", "now_ms", "state"),
    [
        (None, NOW_MS, "never_seen"),
        (online(), NOW_MS, "online"),
        (online(), NOW_MS + WINDOW_MS, "online"),
        (online(), NOW_MS + WINDOW_MS + 1, "stale"),
        (online(heartbeat_s=10.0), NOW_MS + 25_000, "online"),
        (online(heartbeat_s=10.0), NOW_MS + 25_001, "stale"),
        (online(heartbeat_s=600.0), NOW_MS + 1_000_000, "online"),
        (Seen("offline", NOW_MS), NOW_MS, "offline"),
        (Seen("offline", None), NOW_MS + 10 * WINDOW_MS, "offline"),
        (Seen("online", None), NOW_MS, "stale"),
    ],
)
def test_device_state(seen: Seen | None, now_ms: int, state: str) -> None:
    """never_seen without a status, offline after a goodbye, stale past the window, else online."""
    assert device_state(seen, now_ms) == state


def beat(sent_ms: int, started_ms: int = STARTED_MS):
    return parse_status(heartbeat(sent_ms, started_ms=started_ms))


@pytest.mark.parametrize(
    ("status", "seen", "wins"),
    [
        (beat(NOW_MS), None, True),
        (beat(NOW_MS + 60_000), online(), True),
        (beat(NOW_MS - 60_000), online(), False),  # late redelivery of an older heartbeat
        (beat(NOW_MS), online(), False),  # the same heartbeat again (retained replay)
        (beat(NOW_MS - 10**9, started_ms=NOW_MS - 10**9), online(), True),  # another run
        (beat(NOW_MS), Seen("offline", NOW_MS, NOW_MS, STARTED_MS), True),  # reconnect republish
        (beat(NOW_MS - 1), Seen("offline", NOW_MS, NOW_MS, STARTED_MS), False),
        (beat(NOW_MS), Seen("offline", None), True),  # only a last will was ever seen
        (parse_status(offline()), None, True),
        (parse_status(offline()), online(NOW_MS - 1), True),
        (parse_status(offline()), online(NOW_MS), True),
        (parse_status(offline()), online(NOW_MS + 1), False),  # a heartbeat came after it
        (parse_status(offline()), Seen("offline", None), True),
    ],
)
def test_which_status_wins(status, seen: Seen | None, wins: bool) -> None:
    """Newer heartbeats and new runs replace the stored one; replays and stale offlines do not."""
    assert supersedes(status, seen, NOW_MS) is wins


def test_a_retained_heartbeat_counts_from_when_it_was_sent() -> None:
    """A replayed retained heartbeat does not make a long-dead device look alive."""
    status = beat(NOW_MS - 3_600_000)
    assert seen_ms(status, NOW_MS, retained=True) == NOW_MS - 3_600_000
    assert seen_ms(status, NOW_MS, retained=False) == NOW_MS
    assert seen_ms(beat(NOW_MS + 5_000), NOW_MS, retained=True) == NOW_MS  # clock ahead


@pytest.mark.parametrize(
    ("source", "state"),
    [
        (source_body(), "up"),
        (source_body(dead_air=True), "dead_air"),
        (source_body(clipping=True), "clipping"),
        (source_body(dead_air=True, clipping=True), "dead_air"),
        (source_body(state="down", dead_air=True), "down"),
        (source_body(state="ended"), "ended"),
        (source_body(state="starting"), "starting"),
        ({}, "unknown"),
    ],
)
def test_source_state(source: dict, state: str) -> None:
    """Dead air and clipping show only on a source that is up; down and ended stand as they are."""
    assert source_state(source) == state


def test_source_states_carry_level_error_and_restarts() -> None:
    """Each source of the heartbeat appears, by id, with what an operator needs to act."""
    body = heartbeat_body(
        sources={
            "fm": source_body(),
            "am": source_body(state="down", restarts=4, last_error="ffmpeg_exit: 404"),
        }
    )
    states = source_states(body)
    assert list(states) == ["am", "fm"]
    assert states["am"]["state"] == "down" and states["am"]["restarts"] == 4
    assert states["am"]["last_error"] == "ffmpeg_exit: 404"
    assert states["fm"]["level_dbfs"] == -18.2 and states["fm"]["since_ms"] == STARTED_MS


def test_report_has_the_same_keys_whatever_is_known() -> None:
    """The API's shape does not depend on the device's state: missing values are None."""
    full = device_report(online(heartbeat=heartbeat_body()), NOW_MS + 12_000)
    empty = device_report(None, NOW_MS)
    assert set(full) == set(empty)
    assert set(full["spool"]) == set(empty["spool"]) and set(full["clock"]) == set(empty["clock"])
    assert (empty["state"], empty["last_seen_at"], empty["sources"]) == ("never_seen", None, {})
    assert full["state"] == "online" and full["last_seen_age_s"] == 12.0
    assert full["spool"] == {
        "depth": 3,
        "payload_bytes": 4_000,
        "oldest_age_ms": 31_000,
        "dropped": 1,
    }
    assert full["clock"]["sync_state"] == "synced" and full["sources"]["fm"]["state"] == "up"
    assert full["last_seen_at"] == "2027-01-15T08:00:00.000Z"


def test_offline_report_keeps_the_last_heartbeat() -> None:
    """After a goodbye the report says offline, why and since when, and still shows the sources."""
    seen = Seen(
        "offline",
        NOW_MS,
        heartbeat=heartbeat_body(),
        offline_reason="connection lost",
        offline_since_ms=NOW_MS + 1_000,
    )
    report = device_report(seen, NOW_MS + 10 * WINDOW_MS)
    assert report["state"] == "offline" and report["offline_reason"] == "connection lost"
    assert report["offline_since"] == "2027-01-15T08:00:01.000Z"
    assert report["sources"]["fm"]["state"] == "up"
