"""The pure seq accounting: gaps open above the high-water mark, shrink and split as seqs land,
and resend commands respect contract 2's range limit."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from central.ingest.gaps import (
    RESEND_SEQS_MAX,
    advance,
    chunks,
    cut,
    request_delay_s,
    resend_command,
    unavailable_ranges,
)

SEQ = st.integers(0, 2**63 - 1)


@st.composite
def ranges(draw) -> tuple[int, int]:
    low = draw(st.integers(0, 10**6))
    return low, low + draw(st.integers(0, 10**5))


def test_a_jump_above_the_mark_opens_the_seqs_between() -> None:
    """seq 9 after 2: 3..8 are missing; a seq at or below the mark opens nothing."""
    assert advance(2, 9).seq_max == 9 and advance(2, 9).opened == (3, 8)
    assert advance(2, 3).opened is None and advance(9, 4).seq_max == 9


def test_a_source_first_seen_late_is_asked_for_its_start_only_if_young() -> None:
    """First seen at 5: 0..4 missing; at 0: nothing; far past RESEND_SEQS_MAX: not asked."""
    assert advance(None, 5).opened == (0, 4)
    assert advance(None, 0).opened is None
    assert advance(None, RESEND_SEQS_MAX * 10).opened is None


@given(ranges(), ranges())
def test_cut_keeps_every_seq_exactly_once(gap, taken) -> None:
    """The parts outside and inside `taken` are disjoint, in order, and cover `gap` exactly."""
    rest, inside = cut(gap, taken)
    parts = sorted(rest + ([inside] if inside else []))
    seqs = [seq for low, high in parts for seq in range(low, high + 1)]
    assert seqs == list(range(gap[0], gap[1] + 1))
    if inside:
        assert taken[0] <= inside[0] <= inside[1] <= taken[1]
    assert all(high < taken[0] or low > taken[1] for low, high in rest)


def test_a_seq_inside_a_gap_splits_it() -> None:
    """4 lands in 3..8: 3..3 and 5..8 remain; at an end it only shrinks; alone, nothing left."""
    assert cut((3, 8), (4, 4)) == ([(3, 3), (5, 8)], (4, 4))
    assert cut((3, 8), (3, 3)) == ([(4, 8)], (3, 3))
    assert cut((3, 3), (3, 3)) == ([], (3, 3))
    assert cut((3, 8), (9, 12)) == ([(3, 8)], None)


@given(ranges(), st.integers(1, 20_000))
def test_chunks_cover_the_gap_in_bounded_requests(gap, size) -> None:
    """Consecutive, each at most `size` seqs, together exactly the gap."""
    parts = chunks(gap, size)
    assert parts[0][0] == gap[0] and parts[-1][1] == gap[1]
    assert all(high - low + 1 <= size for low, high in parts)
    assert all(a[1] + 1 == b[0] for a, b in zip(parts, parts[1:], strict=False))


def test_requests_back_off_to_a_cap() -> None:
    """60 s, 120 s, 240 s, ... never past the cap."""
    assert [request_delay_s(n, 60) for n in (1, 2, 3)] == [60, 120, 240]
    assert request_delay_s(30, 60) == 3600


def test_the_resend_command_is_contract_2() -> None:
    """The JSON keys and values the agent reads."""
    body = json.loads(resend_command("a" * 32, "fm", (3, 5)))
    assert body == {
        "command": "resend",
        "request_id": "a" * 32,
        "source_id": "fm",
        "seq_from": 3,
        "seq_to": 5,
    }


def test_unavailable_ranges_keep_only_well_formed_pairs() -> None:
    """[[3, 5]] is read; reversed, negative, bool and short pairs are dropped."""
    detail = {"seq_ranges": [[3, 5], [5, 3], [-1, 2], [True, 4], [7], "x", [8, 8]]}
    assert unavailable_ranges(detail) == [(3, 5), (8, 8)]
    assert unavailable_ranges({}) == []
