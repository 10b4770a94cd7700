"""Commands central sends on the device's commands topic: parsed and checked here, pure.

    stations/{station}/devices/{device}/commands   QoS 1, not retained, JSON (UTF-8)

    {"command": "resend", "request_id": "<32 hex>", "source_id": "<id>",
     "seq_from": F, "seq_to": T}

resend asks again for the batches of one source with seq in [F, T] (inclusive, 0 <= F <= T,
T - F + 1 <= RESEND_SEQS_MAX). The agent makes every one it still holds pending again and
answers the seqs it cannot provide with one `resend_unavailable` event. A range longer than
RESEND_SEQS_MAX is refused as malformed (logged, no event): answering "unavailable" for its
excess could make central give up on batches the agent still has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edge_agent.errors import CommandError
from edge_agent.health import HealthEvent

RESEND_SEQS_MAX = 10_000
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
_SOURCE_ID_CHARS_MAX = 64


@dataclass(frozen=True)
class ResendCommand:
    """Central asks again for the batches of `source_id` with seq in [seq_from, seq_to]."""

    request_id: str
    source_id: str
    seq_from: int
    seq_to: int


def parse_command(payload: bytes) -> ResendCommand:
    """The command in a commands-topic payload; CommandError(kind, why) if it is none we know."""
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandError("malformed", f"not UTF-8 JSON: {error}") from None
    if not isinstance(body, dict) or not isinstance(body.get("command"), str):
        raise CommandError("malformed", "not a JSON object with a string 'command'")
    if body["command"] != "resend":
        raise CommandError(f"unknown command {body['command'][:40]!r}", "ignored")
    return _resend(body)


def _resend(body: dict[str, Any]) -> ResendCommand:
    """A resend command's fields, checked against the contract."""
    request_id, source_id = body.get("request_id"), body.get("source_id")
    seq_from, seq_to = body.get("seq_from"), body.get("seq_to")
    if not (isinstance(request_id, str) and _REQUEST_ID.fullmatch(request_id)):
        raise CommandError("malformed resend", "request_id must be 32 lowercase hex digits")
    if not (isinstance(source_id, str) and 1 <= len(source_id) <= _SOURCE_ID_CHARS_MAX):
        raise CommandError("malformed resend", "source_id must be a string of 1..64 characters")
    if not all(type(seq) is int for seq in (seq_from, seq_to)):
        raise CommandError("malformed resend", "seq_from and seq_to must be integers")
    assert isinstance(seq_from, int) and isinstance(seq_to, int)
    if not 0 <= seq_from <= seq_to:
        why = f"need 0 <= seq_from <= seq_to, got {seq_from} and {seq_to}"
        raise CommandError("malformed resend", why)
    if seq_to - seq_from + 1 > RESEND_SEQS_MAX:
        raise CommandError(
            "resend range too long",
            f"{seq_to - seq_from + 1} seqs asked, at most {RESEND_SEQS_MAX} per command",
        )
    return ResendCommand(request_id, source_id, seq_from, seq_to)


def missing_ranges(seq_from: int, seq_to: int, held: Iterable[int]) -> list[list[int]]:
    """The seqs of [seq_from, seq_to] not in `held` (ascending), as inclusive [from, to] ranges."""
    ranges: list[list[int]] = []
    expected = seq_from
    for seq in held:
        if seq > expected:
            ranges.append([expected, seq - 1])
        expected = max(expected, seq + 1)
    if expected <= seq_to:
        ranges.append([expected, seq_to])
    return ranges


def unavailable_event(
    command: ResendCommand, seq_ranges: list[list[int]], now_ms: int
) -> HealthEvent:
    """The one `resend_unavailable` event answering the seqs of `command` the agent lacks."""
    detail = {"request_id": command.request_id, "seq_ranges": seq_ranges}
    return HealthEvent("resend_unavailable", command.source_id, now_ms, detail)
