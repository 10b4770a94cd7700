"""Is this payload a batch we accept? Pure: the device table is passed in as a lookup.

Every refusal has a short stable reason (the quarantine's `reason` column) and a detail:

    bad_topic          not stations/{station}/devices/{device}/batches (or /events, /status)
    <decode reason>    bad_magic, truncated, oversized, checksum_mismatch, ... (edge_agent.errors)
    unknown_device     the topic's device is not registered
    revoked_device     the device was revoked
    wrong_station      the topic's station is not the device's station
    device_mismatch    the batch says another device than its topic
    fingerprint_version  a fingerprint version the matcher does not read
    future_timestamp   window_start_ms beyond now + FUTURE_MS_MAX
    out_of_range       seq or first_frame past BIGINT (the wire allows u64), window_start_ms
                       not a UTC instant in ms
    bad_source_id      source_id empty, too long, or with a NUL or other non-printable char

The range checks keep every field within its column, so that storing a batch can only fail for
a transient reason (the database is away), never for what the batch is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from central.times import INSTANT_MS_MAX
from edge_agent.batch import PAYLOAD_BYTES_MAX, HashBatch, decode_batch
from edge_agent.errors import BatchDecodeError

TOPIC = re.compile(r"stations/([^/+#]+)/devices/([^/+#]+)/(batches|events|status)")
FUTURE_MS_MAX = 5 * 60 * 1000  # a device clock this far ahead is wrong, not early
BIGINT_MAX = 2**63 - 1  # PostgreSQL BIGINT, the column of seq (the wire's u64 goes past it)
SOURCE_CHARS_MAX = 64  # ingested_batch.source_id


@dataclass(frozen=True)
class DeviceInfo:
    """What ingest needs to know of a device."""

    device_pk: int
    station_pk: int
    code: str
    station_code: str
    active: bool


class Rejected(Exception):
    """A payload refused at ingest."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def check_batch(
    topic: str,
    payload: bytes,
    lookup: Callable[[str], DeviceInfo | None],
    now_ms: int,
    fingerprint_version: int,
    payload_bytes_max: int = PAYLOAD_BYTES_MAX,
) -> tuple[HashBatch, DeviceInfo]:
    """The decoded batch and its device, or Rejected saying why not."""
    station_code, device_code = parse_topic(topic, "batches")
    device = check_device(lookup, device_code, station_code)
    try:
        batch = decode_batch(payload, payload_bytes_max)
    except BatchDecodeError as error:
        raise Rejected(error.reason, str(error)) from None
    if batch.device_id != device_code:
        raise Rejected("device_mismatch", f"batch of {batch.device_id!r} on {device_code}'s topic")
    if batch.fingerprint_version != fingerprint_version:
        raise Rejected(
            "fingerprint_version",
            f"version {batch.fingerprint_version}, the matcher reads {fingerprint_version}",
        )
    check_ranges(batch)
    if batch.window_start_ms > now_ms + FUTURE_MS_MAX:
        ahead_s = (batch.window_start_ms - now_ms) / 1000
        raise Rejected("future_timestamp", f"window starts {ahead_s:.0f} s in the future")
    return batch, device


def check_ranges(batch: HashBatch) -> None:
    """Every field the store writes fits its column, or Rejected (out_of_range, bad_source_id)."""
    for name in ("seq", "first_frame"):
        value = getattr(batch, name)
        if not 0 <= value <= BIGINT_MAX:
            raise Rejected("out_of_range", f"{name} {value} is not in 0..{BIGINT_MAX}")
    if not 0 <= batch.window_start_ms <= INSTANT_MS_MAX:
        raise Rejected(
            "out_of_range", f"window_start_ms {batch.window_start_ms} is not a UTC instant in ms"
        )
    check_source_id(batch.source_id)


def check_source_id(source_id: str) -> None:
    """1..SOURCE_CHARS_MAX printable characters (PostgreSQL text holds no NUL), or Rejected."""
    if not 1 <= len(source_id) <= SOURCE_CHARS_MAX:
        raise Rejected("bad_source_id", f"source id of {len(source_id)} characters")
    if not source_id.isprintable():
        raise Rejected("bad_source_id", f"source id {source_id!r} has a non-printable character")


def parse_topic(topic: str, kind: str) -> tuple[str, str]:
    """The (station code, device code) of a device topic of this kind, or Rejected bad_topic."""
    match = TOPIC.fullmatch(topic)
    if match is None or match.group(3) != kind:
        raise Rejected(
            "bad_topic", f"{topic!r} is not stations/{{station}}/devices/{{device}}/{kind}"
        )
    return match.group(1), match.group(2)


def check_device(lookup: Callable[[str], DeviceInfo | None], code: str, station: str) -> DeviceInfo:
    """The topic's device, known, active and of the topic's station, or Rejected saying why."""
    device = lookup(code)
    if device is None:
        raise Rejected("unknown_device", f"no device {code}")
    if not device.active:
        raise Rejected("revoked_device", f"device {code} is revoked")
    if device.station_code != station:
        raise Rejected(
            "wrong_station", f"device {code} belongs to {device.station_code}, not {station}"
        )
    return device
