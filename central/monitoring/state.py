"""A device's and its sources' state, judged from the latest status. Pure: `now_ms` is passed in.

    device state  when
    never_seen    no status of the device ever arrived
    online        the latest status is a heartbeat, seen at most stale_after_ms ago
    stale         the latest status is a heartbeat, seen longer ago than MISSED_HEARTBEATS_MAX
                  heartbeat intervals (its heartbeat_s, else HEARTBEAT_S_DEFAULT): the agent,
                  its network or the broker is gone without a last will
    offline       the latest status is the agent's goodbye or its last will

A source's state comes from the latest heartbeat: starting, up, dead_air (up, but silent),
clipping (up, but clipped), down, ended. When the device is not online, that is its state as
last reported.

Which status wins: a retained status comes again whenever a listener subscribes, and two
listeners may store one device's statuses in either order. A heartbeat replaces the stored
one when it is from another agent run (started_ms) or later by sent_ms within the same run, or
the same heartbeat republished after a reconnect that followed an offline. An offline replaces
it unless a heartbeat was received after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from central.monitoring.health import OFFLINE, ONLINE, SOURCE_FIELDS, Status
from central.times import iso_utc

STALE, NEVER_SEEN = "stale", "never_seen"
HEARTBEAT_S_DEFAULT = 60.0  # the agent's default heartbeat_s, for statuses that do not say
MISSED_HEARTBEATS_MAX = 2.5  # one late or lost heartbeat is not yet an outage; two and a half is


@dataclass(frozen=True)
class Seen:
    """What is stored of a device's latest status."""

    state: str  # online | offline: the latest status message
    last_seen_ms: int | None  # when the latest heartbeat was received
    sent_ms: int | None = None  # that heartbeat's sent_ms (device clock)
    started_ms: int | None = None  # that heartbeat's agent run
    heartbeat_s: float | None = None
    heartbeat: dict[str, Any] | None = None
    offline_reason: str | None = None
    offline_since_ms: int | None = None


def stale_after_ms(heartbeat_s: float | None) -> int:
    """How long after the last heartbeat a device is stale."""
    return round(MISSED_HEARTBEATS_MAX * 1000.0 * (heartbeat_s or HEARTBEAT_S_DEFAULT))


def device_state(seen: Seen | None, now_ms: int) -> str:
    """never_seen, offline, stale or online (see the module docstring)."""
    if seen is None:
        return NEVER_SEEN
    if seen.state == OFFLINE:
        return OFFLINE
    if seen.last_seen_ms is None or now_ms - seen.last_seen_ms > stale_after_ms(seen.heartbeat_s):
        return STALE
    return ONLINE


def supersedes(status: Status, seen: Seen | None, now_ms: int) -> bool:
    """Whether `status`, received at now_ms, replaces the stored one (see the module docstring)."""
    if seen is None:
        return True
    if status.state == OFFLINE:
        return seen.last_seen_ms is None or seen.last_seen_ms <= now_ms
    assert status.sent_ms is not None, "a heartbeat has sent_ms"
    if seen.sent_ms is None or status.started_ms != seen.started_ms:
        return True
    if status.sent_ms > seen.sent_ms:
        return True
    return status.sent_ms == seen.sent_ms and seen.state == OFFLINE


def seen_ms(status: Status, now_ms: int, retained: bool) -> int:
    """When a heartbeat shows the device alive: on receipt, but a retained one (replayed by the
    broker on subscribe) no later than it was sent."""
    assert status.sent_ms is not None, "a heartbeat has sent_ms"
    return min(status.sent_ms, now_ms) if retained else now_ms


def source_state(source: dict[str, Any]) -> str:
    """One source's state from its part of the heartbeat; dead air and clipping over up."""
    state = source.get("state")
    if state == "up" and source.get("dead_air"):
        return "dead_air"
    if state == "up" and source.get("clipping"):
        return "clipping"
    return state if isinstance(state, str) else "unknown"


def source_states(heartbeat: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Each source's state and measurements, by source id."""
    sources = (heartbeat or {}).get("sources") or {}
    return {
        source_id: {"state": source_state(s), **{k: s.get(k) for k in SOURCE_FIELDS}}
        for source_id, s in sorted(sources.items())
    }


def heartbeat_summary(heartbeat: dict[str, Any] | None) -> dict[str, Any]:
    """Spool, clock, uplink, load and versions from a heartbeat; every key, None when unknown."""
    body = heartbeat or {}
    spool, clock, uplink = (body.get(k) or {} for k in ("spool", "clock", "uplink"))
    dropped = [v for k, v in spool.items() if k.startswith("dropped_") and isinstance(v, int)]
    return {
        "sent_ms": body.get("sent_ms"),
        "started_ms": body.get("started_ms"),
        "agent_version": body.get("agent_version"),
        "fingerprint_version": body.get("fingerprint_version"),
        "spool": {
            "depth": spool.get("depth"),
            "payload_bytes": spool.get("payload_bytes"),
            "oldest_age_ms": spool.get("oldest_age_ms"),
            "dropped": sum(dropped) if dropped else None,
        },
        "clock": {"sync_state": clock.get("sync_state"), "offset_ms": clock.get("offset_ms")},
        "uplink": {"connected": uplink.get("connected"), "last_error": uplink.get("last_error")},
        "cpu_percent": body.get("cpu_percent"),
        "memory_rss_bytes": body.get("memory_rss_bytes"),
    }


def device_report(seen: Seen | None, now_ms: int) -> dict[str, Any]:
    """A device's health as plain JSON-ready values: state, last seen, sources, spool, clock."""
    last_seen_ms = seen.last_seen_ms if seen else None
    heartbeat_s = seen.heartbeat_s if seen else None
    return {
        "state": device_state(seen, now_ms),
        "last_seen_at": iso_or_none(last_seen_ms),
        "last_seen_age_s": None if last_seen_ms is None else (now_ms - last_seen_ms) / 1000.0,
        "heartbeat_s": heartbeat_s,
        "stale_after_s": stale_after_ms(heartbeat_s) / 1000.0,
        "offline_reason": seen.offline_reason if seen else None,
        "offline_since": iso_or_none(seen.offline_since_ms if seen else None),
        **heartbeat_summary(seen.heartbeat if seen else None),
        "sources": source_states(seen.heartbeat if seen else None),
    }


def iso_or_none(at_ms: int | None) -> str | None:
    """UTC milliseconds as ISO 8601 (central.times.iso_utc), None for None."""
    return None if at_ms is None else iso_utc(at_ms)
