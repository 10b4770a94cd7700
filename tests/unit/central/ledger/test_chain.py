"""central.ledger.chain: the content and chain hash layouts, frozen by a worked example."""

from __future__ import annotations

from datetime import UTC, datetime

from central.ledger import chain


def test_chain_hash_worked_example() -> None:
    """The docstring's example: changing the layout must show up here."""
    link = chain.chain_hash(1, chain.GENESIS_HASH, "ab" * 32, 1_790_000_000_000_000)
    assert link == chain.CHAIN_EXAMPLE_HASH


def test_content_hash_golden_vector() -> None:
    """A fixed transfer's content hash; a change of layout or JSON form changes it."""
    digest = chain.content_hash(
        "00000000-0000-0000-0000-000000000001", "royalty:play:1", "royalty", "posted", "GHS",
        None, None, [("station:a:wallet", "debit", 100), ("artist:1:earnings", "credit", 100)],
        '{"play_id":1}',
    )  # fmt: skip
    assert digest == "bb89d14df2e15cd238d0d077a3fe9496d74d1fb0e3a37aec9ce6cdbe01c0f610"
    again = chain.content_hash(
        "00000000-0000-0000-0000-000000000001", "royalty:play:1", "royalty", "posted", "GHS",
        None, None, [("station:a:wallet", "debit", 100), ("artist:1:earnings", "credit", 101)],
        '{"play_id":1}',
    )  # fmt: skip
    assert again != digest


def test_instant_us_reads_naive_times_as_utc() -> None:
    """SQLite hands back naive datetimes: they hash like the aware UTC time stored."""
    aware = datetime(2026, 11, 24, 8, 0, 0, 123456, tzinfo=UTC)
    assert chain.instant_us(aware) == chain.instant_us(aware.replace(tzinfo=None))
    assert chain.instant_us(aware) % 1_000_000 == 123456


def test_canonical_json_sorts_keys() -> None:
    """Metadata with the same keys and values has one text, whatever the order given."""
    assert chain.canonical_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
