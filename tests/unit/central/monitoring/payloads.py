"""Status and event payloads as the edge agent publishes them, built from its own serialisers."""

from __future__ import annotations

import json
from typing import Any

from edge_agent.health import HealthEvent
from edge_agent.uplink import offline_status

NOW_MS = 1_800_000_000_000
STARTED_MS = NOW_MS - 3_600_000
STATUS_TOPIC = "stations/joy-fm/devices/pi-01/status"
EVENTS_TOPIC = "stations/joy-fm/devices/pi-01/events"


def heartbeat_body(
    sent_ms: int = NOW_MS,
    started_ms: int = STARTED_MS,
    device: str = "pi-01",
    station: str = "joy-fm",
    **changes: Any,
) -> dict[str, Any]:
    """A heartbeat shaped like edge_agent.agent.Agent.status(): one source, fm, up."""
    body: dict[str, Any] = {
        "state": "online",
        "device_id": device,
        "station_id": station,
        "sent_ms": sent_ms,
        "started_ms": started_ms,
        "agent_version": "0.1.0",
        "fingerprint_version": 2,
        "sources": {"fm": source_body()},
        "spool": {
            "depth": 3,
            "payload_bytes": 4_000,
            "oldest_age_ms": 31_000,
            "file_bytes": 164_088,
            "dropped_for_bytes": 0,
            "dropped_for_age": 1,
            "dropped_for_disk_full": 0,
        },
        "uplink": {
            "connected": True,
            "connected_since_ms": started_ms,
            "inflight": 0,
            "last_error": None,
            "connects": 1,
            "published": 10,
            "acked": 10,
            "refused": 0,
        },
        "clock": {"sync_state": "synced", "offset_ms": 0, "esterror_ms": 16},
        "cpu_percent": 11.5,
        "memory_rss_bytes": 67_170_304,
        "capture_cpu_percent": 4.0,
        "capture_rss_bytes": 20_000_000,
    }
    body.update(changes)
    return body


def source_body(**changes: Any) -> dict[str, Any]:
    """One source's part of the heartbeat, like edge_agent.worker.SourceWorker.snapshot()."""
    body: dict[str, Any] = {
        "state": "up",
        "since_ms": STARTED_MS,
        "level_dbfs": -18.2,
        "silence_share": 0.01,
        "clipping_share": 0.0,
        "dead_air": False,
        "clipping": False,
        "restarts": 0,
        "last_audio_ms": NOW_MS - 500,
        "last_error": None,
        "kind": "stream",
        "seq_next": 351,
        "batches_spooled": 351,
        "batches_lost": 0,
    }
    body.update(changes)
    return body


def encode(body: dict[str, Any]) -> bytes:
    """JSON as the agent's uplink encodes a status."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def heartbeat(sent_ms: int = NOW_MS, **changes: Any) -> bytes:
    """An encoded heartbeat of pi-01 at joy-fm."""
    return encode(heartbeat_body(sent_ms, **changes))


def offline(reason: str = "connection lost", device: str = "pi-01") -> bytes:
    """The agent's last will (or, with reason shutdown, its goodbye)."""
    return offline_status(device, "joy-fm", reason)


def event(
    kind: str = "stream_down",
    at_ms: int = NOW_MS,
    source: str = "fm",
    device: str = "pi-01",
    **detail,
) -> bytes:
    """A HealthEvent as the agent publishes it."""
    return HealthEvent(kind, source, at_ms, detail).to_json(device)
