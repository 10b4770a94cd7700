"""Tests for edge_agent.commands: the resend command's contract, missing ranges, the answer."""

from __future__ import annotations

import json

import pytest

from edge_agent.commands import (
    RESEND_SEQS_MAX,
    ResendCommand,
    missing_ranges,
    parse_command,
    unavailable_event,
)
from edge_agent.errors import CommandError

REQUEST_ID = "0123456789abcdef0123456789abcdef"


def resend(**fields: object) -> bytes:
    """A resend payload as central sends it, with `fields` replaced."""
    body = {"command": "resend", "request_id": REQUEST_ID, "source_id": "fm"}
    body.update(seq_from=3, seq_to=9)
    body.update(fields)
    return json.dumps(body).encode()


def test_resend_is_parsed() -> None:
    """A well-formed resend becomes a ResendCommand with its inclusive range."""
    assert parse_command(resend()) == ResendCommand(REQUEST_ID, "fm", 3, 9)
    assert parse_command(resend(seq_from=0, seq_to=RESEND_SEQS_MAX - 1)).seq_to == 9_999


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"\xff\xfe", "malformed"),
        (b"{not json", "malformed"),
        (b"[1, 2]", "malformed"),
        (b'{"command": 7}', "malformed"),
        (b'{"command": "reboot"}', "unknown command 'reboot'"),
        (resend(request_id="ABC"), "malformed resend"),
        (resend(request_id="0123456789ABCDEF0123456789ABCDEF"), "malformed resend"),
        (resend(source_id=""), "malformed resend"),
        (resend(seq_from="3"), "malformed resend"),
        (resend(seq_to=True), "malformed resend"),
        (resend(seq_from=5.0), "malformed resend"),
        (resend(seq_from=-1), "malformed resend"),
        (resend(seq_from=10, seq_to=9), "malformed resend"),
        (resend(seq_from=0, seq_to=RESEND_SEQS_MAX), "resend range too long"),
    ],
)
def test_what_is_not_a_resend_is_refused_by_kind(payload: bytes, kind: str) -> None:
    """Malformed payloads, unknown commands and over-long ranges raise CommandError by kind."""
    with pytest.raises(CommandError) as raised:
        parse_command(payload)
    assert raised.value.kind == kind


@pytest.mark.parametrize(
    ("seq_from", "seq_to", "held", "missing"),
    [
        (0, 9, [], [[0, 9]]),
        (0, 9, list(range(10)), []),
        (0, 9, [0, 1, 5, 9], [[2, 4], [6, 8]]),
        (3, 5, [4], [[3, 3], [5, 5]]),
        (10, 20, [12, 13, 14], [[10, 11], [15, 20]]),
    ],
)
def test_missing_ranges(seq_from: int, seq_to: int, held: list[int], missing: list) -> None:
    """The seqs not held come back as inclusive ranges, ascending."""
    assert missing_ranges(seq_from, seq_to, held) == missing


def test_unavailable_event_has_the_contracts_layout() -> None:
    """resend_unavailable is published as the brief's JSON: kind, ids, at_ms, request, ranges."""
    event = unavailable_event(ResendCommand(REQUEST_ID, "fm", 0, 20), [[0, 4], [9, 20]], 1234)
    assert json.loads(event.to_json("pi-01")) == {
        "kind": "resend_unavailable",
        "device_id": "pi-01",
        "source_id": "fm",
        "at_ms": 1234,
        "detail": {"request_id": REQUEST_ID, "seq_ranges": [[0, 4], [9, 20]]},
    }
