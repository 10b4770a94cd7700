"""Is this a status or event payload we accept? Pure: the device table comes in as a lookup.

A status (`stations/{station}/devices/{device}/status`, retained) is the agent's heartbeat
(`"state": "online"`, see edge_agent/agent.py `Agent.status`) or its goodbye (`"state":
"offline"`, the last will or a clean shutdown, edge_agent/uplink.py `offline_status`). An event
(`.../events`) is a HealthEvent (edge_agent/health.py). Every refusal has a short stable reason
(the quarantine's `reason` column), besides bad_topic and the device checks of
central.ingest.validate (unknown_device, revoked_device, wrong_station):

    oversized         more than STATUS_BYTES_MAX (status) or EVENT_BYTES_MAX (event) bytes
    not_json          not UTF-8 JSON (NaN, Infinity and deep nesting included)
    not_object        JSON, but not an object
    missing_key       a required key is absent or null
    bad_value         a key of the wrong type or out of range
    unknown_state     a status state other than online and offline
    unknown_kind      an event kind the agent does not raise
    device_mismatch   the payload names another device than its topic
    station_mismatch  the payload names another station than its topic
    future_timestamp  an event's at_ms beyond now + FUTURE_MS_MAX
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from central.ingest.validate import (
    FUTURE_MS_MAX,
    DeviceInfo,
    Rejected,
    check_device,
    parse_topic,
)
from central.times import INSTANT_MS_MAX

ONLINE, OFFLINE = "online", "offline"
STATUS_BYTES_MAX = 64 * 1024  # a heartbeat is about 0.6 kB plus 0.4 kB per source
EVENT_BYTES_MAX = 8 * 1024  # an event is about 0.2 kB
HEARTBEAT_S_MAX = 3600.0  # the agent's own upper limit of heartbeat_s
SOURCE_CHARS_MAX = 64  # like the agent's source ids and ingested_batch.source_id
REASON_CHARS_MAX = 200  # an offline reason longer than this is cut, not refused
EVENT_KINDS = frozenset(
    {
        "stream_up",
        "stream_down",
        "source_ended",
        "source_stopped",
        "dead_air",
        "dead_air_end",
        "clipping",
        "clipping_end",
        "resend_unavailable",  # the answer to a resend command (central/ingest/gaps.py)
    }
)
STOP_KINDS = ("source_ended", "source_stopped")  # their detail's seq_last: no audio follows it

INSTANT_FIELDS = frozenset({"sent_ms", "started_ms", "at_ms", "since_ms", "last_audio_ms"})
NUMBER = (int, float)
# The heartbeat's parts that central reads, and their types: checked here so that no reader
# of a stored heartbeat meets a string where it formats a number. Other keys pass unchecked.
SOURCE_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,),
    "since_ms": (int,),
    "level_dbfs": NUMBER,
    "silence_share": NUMBER,
    "clipping_share": NUMBER,
    "dead_air": (bool,),
    "clipping": (bool,),
    "restarts": (int,),
    "last_audio_ms": (int,),
    "last_error": (str,),
}
PART_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "spool": {
        "depth": (int,),
        "payload_bytes": (int,),
        "oldest_age_ms": (int,),
        "dropped_for_bytes": (int,),
        "dropped_for_age": (int,),
        "dropped_for_disk_full": (int,),
    },
    "clock": {"sync_state": (str,), "offset_ms": NUMBER},
    "uplink": {"connected": (bool,), "last_error": (str,)},
}
TOP_FIELDS: dict[str, tuple[type, ...]] = {
    "agent_version": (str,),
    "fingerprint_version": (int,),
    "cpu_percent": NUMBER,
    "memory_rss_bytes": (int,),
}


@dataclass(frozen=True)
class Status:
    """A status message: a heartbeat (online) or the device's goodbye (offline)."""

    state: str
    device_id: str
    station_id: str
    sent_ms: int | None = None  # heartbeats: when the agent built it, by the device's clock
    started_ms: int | None = None  # heartbeats: when this agent process started
    heartbeat_s: float | None = None  # heartbeats that say their interval
    reason: str | None = None  # offline: "connection lost" (last will), "shutdown", ...
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """A health event of one source: a condition starting or ending."""

    kind: str
    device_id: str
    source_id: str
    at_ms: int
    detail: dict[str, Any]


def load_object(payload: bytes, bytes_max: int) -> dict[str, Any]:
    """The payload as a JSON object, or Rejected (oversized, not_json, not_object)."""
    if len(payload) > bytes_max:
        raise Rejected("oversized", f"{len(payload)} bytes, at most {bytes_max}")
    try:
        body = json.loads(bytes(payload).decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Rejected("not_json", f"{type(error).__name__}: {error}") from None
    if not isinstance(body, dict):
        raise Rejected("not_object", f"a JSON {type(body).__name__}, not an object")
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _get(body: dict[str, Any], key: str, kinds: tuple[type, ...], required: bool = True) -> Any:
    """body[key] if it is one of `kinds` (a bool is no int here), None if optional and absent."""
    value = body.get(key)
    if value is None and required:
        raise Rejected("missing_key", f"no {key!r}")
    _check_fields(body, {key: kinds}, "")
    if isinstance(value, str) and "\x00" in value:  # PostgreSQL stores no NUL in text
        raise Rejected("bad_value", f"{key!r} holds a NUL character")
    return value


def parse_status(payload: bytes, bytes_max: int = STATUS_BYTES_MAX) -> Status:
    """The status in `payload`, or Rejected saying why not."""
    body = load_object(payload, bytes_max)
    state = _get(body, "state", (str,))
    device_id = _get(body, "device_id", (str,))
    station_id = _get(body, "station_id", (str,))
    if state == OFFLINE:
        reason = _get(body, "reason", (str,), required=False)
        reason = reason[:REASON_CHARS_MAX] if reason else None
        return Status(OFFLINE, device_id, station_id, reason=reason, body=body)
    if state != ONLINE:
        raise Rejected("unknown_state", f"state {state[:40]!r}, not online or offline")
    heartbeat_s = _get(body, "heartbeat_s", (int, float), required=False)
    if heartbeat_s is not None and not 0 < heartbeat_s <= HEARTBEAT_S_MAX:
        raise Rejected("bad_value", f"heartbeat_s {heartbeat_s} is not in (0, {HEARTBEAT_S_MAX}]")
    _check_sources(_get(body, "sources", (dict,)))
    _check_fields(body, TOP_FIELDS, "")
    for part, fields in PART_FIELDS.items():
        _check_fields(_get(body, part, (dict,), required=False) or {}, fields, f"{part}.")
    return Status(
        ONLINE,
        device_id,
        station_id,
        sent_ms=_get(body, "sent_ms", (int,)),
        started_ms=_get(body, "started_ms", (int,), required=False),
        heartbeat_s=None if heartbeat_s is None else float(heartbeat_s),
        body=body,
    )


def _check_sources(sources: dict[str, Any]) -> None:
    """Each source a bounded id and an object with a string state and well-typed fields."""
    for source_id, source in sources.items():
        if not 1 <= len(source_id) <= SOURCE_CHARS_MAX:
            raise Rejected("bad_value", f"source id of {len(source_id)} characters")
        if not isinstance(source, dict):
            raise Rejected("bad_value", f"source {source_id!r} is not an object")
        _get(source, "state", (str,))
        _check_fields(source, SOURCE_FIELDS, f"sources.{source_id}.")


def _check_fields(body: dict[str, Any], fields: dict[str, tuple[type, ...]], where: str) -> None:
    """Each of `fields` present in `body` (and not null) is of its type."""
    for key, kinds in fields.items():
        value = body.get(key)
        if value is not None and (
            (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds)
        ):
            raise Rejected("bad_value", f"{where}{key} is a {type(value).__name__}")
        if key in INSTANT_FIELDS and value is not None and not 0 <= value <= INSTANT_MS_MAX:
            raise Rejected("bad_value", f"{where}{key} {value} is not a UTC instant in ms")


def parse_event(payload: bytes, bytes_max: int = EVENT_BYTES_MAX) -> Event:
    """The health event in `payload`, or Rejected saying why not."""
    body = load_object(payload, bytes_max)
    kind = _get(body, "kind", (str,))
    if kind not in EVENT_KINDS:
        raise Rejected("unknown_kind", f"kind {kind[:40]!r}")
    source_id = _get(body, "source_id", (str,))
    if not 1 <= len(source_id) <= SOURCE_CHARS_MAX:
        raise Rejected("bad_value", f"source id of {len(source_id)} characters")
    return Event(
        kind=kind,
        device_id=_get(body, "device_id", (str,)),
        source_id=source_id,
        at_ms=_get(body, "at_ms", (int,)),
        detail=_get(body, "detail", (dict,), required=False) or {},
    )


def check_status(
    topic: str, payload: bytes, lookup: Callable[[str], DeviceInfo | None]
) -> tuple[Status, DeviceInfo]:
    """The status and its device, or Rejected saying why not."""
    station_code, device_code = parse_topic(topic, "status")
    device = check_device(lookup, device_code, station_code)
    status = parse_status(payload)
    _same(status.device_id, device_code, "device")
    _same(status.station_id, station_code, "station")
    return status, device


def check_event(
    topic: str, payload: bytes, lookup: Callable[[str], DeviceInfo | None], now_ms: int
) -> tuple[Event, DeviceInfo]:
    """The event and its device, or Rejected saying why not."""
    station_code, device_code = parse_topic(topic, "events")
    device = check_device(lookup, device_code, station_code)
    event = parse_event(payload)
    _same(event.device_id, device_code, "device")
    if event.at_ms > now_ms + FUTURE_MS_MAX:
        ahead_s = (event.at_ms - now_ms) / 1000
        raise Rejected("future_timestamp", f"event at {ahead_s:.0f} s in the future")
    return event, device


def _same(named: str, topic_code: str, what: str) -> None:
    """The payload's device (or station) is its topic's."""
    if named != topic_code:
        raise Rejected(
            f"{what}_mismatch", f"{what} {named[:64]!r} in a message on {topic_code}'s topic"
        )
