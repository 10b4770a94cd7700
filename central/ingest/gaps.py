"""Seq accounting, pure: which seqs of a source are missing, and the resend commands for them.

Every source of a device numbers its windows 0, 1, 2, ... (the agent's spool persists the
counter), so a seq central has not seen below the highest one it has seen is a batch in flight,
queued at the edge, or lost. A gap is an inclusive range (seq_from, seq_to). A batch that lands
in a gap shrinks it (at an end) or splits it (inside); a `resend_unavailable` answer or too many
unanswered requests turn its part of a gap into `lost`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

Range = tuple[int, int]  # inclusive: (seq_from, seq_to), seq_from <= seq_to

RESEND_SEQS_MAX = 10_000  # contract 2: one resend command asks for at most this many seqs
# A source first seen at seq S <= this is asked for 0..S-1 (its backlog may drain after its
# live batches); a higher S is a source older than this central, whose history is not asked for.
FIRST_GAP_SEQS_MAX = RESEND_SEQS_MAX
REQUEST_DELAY_S_MAX = 3600.0

MISSING, REQUESTED, RECOVERED, LOST = "missing", "requested", "recovered", "lost"
STATES = (MISSING, REQUESTED, RECOVERED, LOST)
OPEN_STATES = (MISSING, REQUESTED)  # still expected: requests go out for these


@dataclass(frozen=True)
class Advance:
    """What a seen seq does to a source's high-water mark: the new mark, and a gap it opens."""

    seq_max: int
    opened: Range | None


def advance(seq_max: int | None, seq: int, first_gap_seqs_max: int = FIRST_GAP_SEQS_MAX) -> Advance:
    """The source's new highest seq after `seq` arrives, and the gap below it that opens."""
    if seq_max is None:
        opened = (0, seq - 1) if 0 < seq <= first_gap_seqs_max else None
        return Advance(seq, opened)
    if seq <= seq_max:
        return Advance(seq_max, None)
    return Advance(seq, (seq_max + 1, seq - 1) if seq > seq_max + 1 else None)


def cut(gap: Range, taken: Range) -> tuple[list[Range], Range | None]:
    """The parts of `gap` outside `taken` (0, 1 or 2 ranges), and the part inside (or None)."""
    low, high = max(gap[0], taken[0]), min(gap[1], taken[1])
    if low > high:
        return [gap], None
    rest = []
    if gap[0] < low:
        rest.append((gap[0], low - 1))
    if high < gap[1]:
        rest.append((high + 1, gap[1]))
    return rest, (low, high)


def chunks(gap: Range, size: int = RESEND_SEQS_MAX) -> list[Range]:
    """`gap` in consecutive ranges of at most `size` seqs."""
    return [(start, min(start + size - 1, gap[1])) for start in range(gap[0], gap[1] + 1, size)]


def seq_count(gap: Range) -> int:
    """How many seqs `gap` holds."""
    return gap[1] - gap[0] + 1


def request_delay_s(
    request_count: int, interval_s: float, delay_s_max: float = REQUEST_DELAY_S_MAX
) -> float:
    """How long after its `request_count`-th request a gap is asked for again (doubling)."""
    return min(interval_s * 2 ** max(request_count - 1, 0), delay_s_max)


def resend_command(request_id: str, source_id: str, seqs: Range) -> bytes:
    """Contract 2's resend command for one chunk of a gap, as the UTF-8 JSON payload."""
    assert 0 <= seqs[0] <= seqs[1] and seq_count(seqs) <= RESEND_SEQS_MAX
    command = {
        "command": "resend",
        "request_id": request_id,
        "source_id": source_id,
        "seq_from": seqs[0],
        "seq_to": seqs[1],
    }
    return json.dumps(command).encode("utf-8")


def command_topic(station_code: str, device_code: str) -> str:
    """Contract 1: the device's commands topic."""
    return f"stations/{station_code}/devices/{device_code}/commands"


def unavailable_ranges(detail: dict) -> list[Range]:
    """The well-formed [from, to] pairs of a resend_unavailable event's seq_ranges; others
    are dropped (the event itself was checked by monitoring.health)."""
    ranges = []
    for pair in detail.get("seq_ranges") or []:
        if (
            isinstance(pair, list)
            and len(pair) == 2
            and all(type(v) is int for v in pair)
            and 0 <= pair[0] <= pair[1]
        ):
            ranges.append((pair[0], pair[1]))
    return ranges
