"""Tests for the spool's delivered-journal: bounds, eviction order, re-pend, the v1 upgrade."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from edge_agent.spool import SCHEMA_VERSION, Spool

BYTES_MAX = 1 << 30
AGE_MS_MAX = 1 << 40
HOUR_MS = 3_600_000


@pytest.fixture
def spool_path(tmp_path: Path) -> Path:
    """Where each test's spool lives."""
    return tmp_path / "spool" / "outbox.db"


def journaled(path: Path, **bounds: int) -> Spool:
    """A spool with a journal: roomy unless the test names tighter bounds."""
    kwargs = {"bytes_max": BYTES_MAX, "age_ms_max": AGE_MS_MAX, "journal_ms_max": HOUR_MS}
    return Spool(path, **{**kwargs, "journal_bytes_max": BYTES_MAX, **bounds})


def put_batches(spool: Spool, seqs: range, size: int = 100, source_id: str = "fm") -> list[int]:
    """Put one batch per seq, created at ms = seq; return their message ids."""
    return [
        spool.put(
            "t/batches", bytes([seq % 256]) * size, now_ms=seq, source_id=source_id, seq=seq
        ).message_id
        for seq in seqs
    ]


def pending_seqs(spool: Spool) -> list[int | None]:
    """The seqs of the pending messages, in send order."""
    return [message.seq for message in spool.pending(10_000)]


def journal_seqs(spool: Spool) -> list[int]:
    """The seqs held in the journal (test-only peek at the table)."""
    rows = spool._connection.execute(
        "SELECT seq FROM messages WHERE delivered_ms IS NOT NULL ORDER BY seq"
    ).fetchall()
    return [seq for (seq,) in rows]


def test_acked_messages_move_to_the_journal_invisible_to_the_sender(spool_path: Path) -> None:
    """After ack a batch is kept but pending, depth, payload_bytes and is_empty ignore it."""
    with journaled(spool_path) as spool:
        ids = put_batches(spool, range(3))
        for message_id in ids:
            assert spool.ack(message_id, now_ms=10) is True
        assert spool.ack(ids[0], now_ms=11) is False  # acked before: no second delivery
        assert spool.pending(10) == [] and spool.is_empty()
        stats = spool.stats()
        assert (stats.depth, stats.payload_bytes, stats.oldest_created_ms) == (0, 0, None)
        assert (stats.journal_depth, stats.journal_bytes) == (3, 300)
        assert (stats.dropped_for_bytes, stats.dropped_for_age) == (0, 0)


def test_journal_is_bounded_by_age_since_delivery(spool_path: Path) -> None:
    """A journal row delivered more than journal_ms_max ago goes at the next ack, put or expire."""
    with journaled(spool_path) as spool:
        old, new, later = put_batches(spool, range(3))
        spool.ack(old, now_ms=0)
        spool.ack(new, now_ms=HOUR_MS // 2)
        assert journal_seqs(spool) == [0, 1]
        assert spool.expire(now_ms=HOUR_MS + 1) == 0  # journal rows are not counted as dropped
        assert journal_seqs(spool) == [1]
        spool.ack(later, now_ms=2 * HOUR_MS)  # new's age is now past the bound too
        assert journal_seqs(spool) == [2]
        assert spool.stats().dropped_for_age == 0


def test_journal_bytes_bound_evicts_the_oldest_delivered_first(spool_path: Path) -> None:
    """Past journal_bytes_max the earliest-delivered rows go, whatever their seq or id."""
    with journaled(spool_path, journal_bytes_max=250) as spool:
        ids = put_batches(spool, range(4))
        for message_id, delivered_ms in zip(ids, (40, 10, 30, 20)):
            spool.ack(message_id, now_ms=delivered_ms)
        # delivered in order seq 1, 3, 2, 0: only the last two fit 250 bytes
        assert journal_seqs(spool) == [0, 2]
        assert spool.stats().journal_bytes == 200


def test_no_journal_when_its_bytes_are_zero(spool_path: Path) -> None:
    """journal_bytes_max 0 turns the journal off: an acked message is gone at once."""
    with journaled(spool_path, journal_bytes_max=0) as spool:
        (message_id,) = put_batches(spool, range(1))
        assert spool.ack(message_id, now_ms=5) is True
        assert journal_seqs(spool) == [] and spool.stats().journal_bytes == 0
        assert spool.repend("fm", 0, 0) == []


def test_bytes_pressure_evicts_the_journal_before_any_pending(spool_path: Path) -> None:
    """Under bytes_max the journal makes room first; pending go only once it is empty."""
    with journaled(spool_path, bytes_max=1_000) as spool:
        ids = put_batches(spool, range(8))  # 800 bytes
        for message_id in ids[:6]:
            spool.ack(message_id, now_ms=100)
        put_batches(spool, range(8, 12))  # 1200 bytes in all: two journal rows must go
        assert journal_seqs(spool) == [2, 3, 4, 5]
        assert pending_seqs(spool) == [6, 7, 8, 9, 10, 11]
        assert spool.stats().dropped_for_bytes == 0
        put_batches(spool, range(12, 17))  # 1100 pending bytes: the journal is gone, one pending
        assert journal_seqs(spool) == []
        assert pending_seqs(spool) == list(range(7, 17))
        assert spool.stats().dropped_for_bytes == 1


def test_delivery_never_displaces_a_pending_message(spool_path: Path) -> None:
    """Moving a message to a journal that is full evicts journal rows, never a pending one."""
    with journaled(spool_path, bytes_max=1_000, journal_bytes_max=100) as spool:
        ids = put_batches(spool, range(10))  # exactly bytes_max
        for message_id in ids[:5]:
            spool.ack(message_id, now_ms=100)
        assert pending_seqs(spool) == [5, 6, 7, 8, 9]
        assert journal_seqs(spool) == [4]
        assert spool.stats().dropped_for_bytes == 0


def test_low_disk_makes_room_from_the_journal_first(spool_path: Path) -> None:
    """Below disk_free_bytes_min the journal rows give their room before the oldest pending."""
    with journaled(spool_path) as spool:
        ids = put_batches(spool, range(4))
        spool.ack(ids[2], now_ms=100)
        spool.ack(ids[3], now_ms=100)
        spool._disk_free_bytes_min = 1 << 62  # from now on the disk is always low (test-only)
        result = spool.put("t/batches", bytes(150), now_ms=5, source_id="fm", seq=4)
        assert result.dropped == 0  # two journal rows made the 150 bytes of room
        assert journal_seqs(spool) == [] and pending_seqs(spool) == [0, 1, 4]
        result = spool.put("t/batches", bytes(100), now_ms=6, source_id="fm", seq=5)
        assert result.dropped == 1 and pending_seqs(spool) == [1, 4, 5]


def test_full_disk_empties_the_journal_before_dropping_pending(spool_path: Path) -> None:
    """On SQLITE_FULL the whole journal goes first, and no pending message is dropped for it."""
    with journaled(spool_path) as spool:
        ids = put_batches(spool, range(20), size=20_000)
        for message_id in ids[:10]:
            spool.ack(message_id, now_ms=100)
        pages = spool._connection.execute("PRAGMA page_count").fetchone()[0]
        spool._connection.execute(f"PRAGMA max_page_count = {pages}")
        result = spool.put("t/batches", bytes(20_000), now_ms=21, source_id="fm", seq=20)
        assert result.dropped == 0 and result.message_id > ids[-1]
        assert journal_seqs(spool) == [] and pending_seqs(spool) == list(range(10, 21))
        assert spool.stats().dropped_for_disk_full == 0


def test_repend_makes_journal_rows_pending_and_names_what_is_held(spool_path: Path) -> None:
    """repend returns every held seq of the range (journal or pending) and sends them again."""
    with journaled(spool_path) as spool:
        ids = put_batches(spool, range(2, 8))
        for message_id in put_batches(spool, range(2, 8), source_id="other"):
            spool.ack(message_id, now_ms=100)
        for message_id in ids[:4]:  # seqs 2..5 delivered, 6 and 7 still pending
            spool.ack(message_id, now_ms=100)
        spool.ack(ids[0], now_ms=100)
        assert spool.repend("fm", 0, 6) == [2, 3, 4, 5, 6]
        assert journal_seqs(spool) == list(range(2, 8))  # the other source's rows are untouched
        fm = [m for m in spool.pending(100) if m.source_id == "fm"]
        assert [m.seq for m in fm] == [2, 3, 4, 5, 6, 7]  # in the original send order
        assert fm[0].payload == bytes([2]) * 100 and fm[0].message_id == ids[0]
        stats = spool.stats()
        assert (stats.payload_bytes, stats.journal_bytes) == (600, 600)
        assert spool.ack(ids[0], now_ms=200) is True  # delivered again: back in the journal
        assert spool.stats().journal_depth == 7


def test_version_1_file_is_upgraded_in_place(spool_path: Path) -> None:
    """A schema 1 spool opens as version 2 with its messages pending, its byte count right,
    and message ids still growing past those acked before the upgrade."""
    spool_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(spool_path, isolation_level=None)) as connection:
        for statement in _VERSION_1_SCHEMA:
            connection.execute(statement)
        for n in range(5):
            connection.execute(
                "INSERT INTO messages (topic, payload_bytes, created_ms, source_id, seq, payload)"
                " VALUES ('t', 10, ?, 'fm', ?, ?)",
                (n, n, bytes(10)),
            )
        connection.execute("DELETE FROM messages WHERE message_id >= 4")  # acked: ids 4, 5 used
    with journaled(spool_path) as spool:
        version = spool._connection.execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION == 2
        assert pending_seqs(spool) == [0, 1, 2]
        assert spool.stats().payload_bytes == 30 and spool.stats().journal_bytes == 0
        assert spool.put("t", b"x", now_ms=9).message_id == 6
        spool.ack(1, now_ms=10)
        assert journal_seqs(spool) == [0]
    with journaled(spool_path) as spool:  # and it opens again as it is
        assert pending_seqs(spool) == [1, 2, None] and journal_seqs(spool) == [0]


_VERSION_1_SCHEMA = (  # as edge_agent/spool.py created files before the journal
    """CREATE TABLE messages (message_id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
        payload_bytes INTEGER NOT NULL, created_ms INTEGER NOT NULL, source_id TEXT, seq INTEGER,
        payload BLOB NOT NULL)""",
    "CREATE INDEX messages_created_ms ON messages (created_ms)",
    "CREATE TABLE sources (source_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL)",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    """INSERT INTO counters (name, value) VALUES ('payload_bytes', 0), ('dropped_for_bytes', 0),
        ('dropped_for_age', 0), ('dropped_for_disk_full', 0)""",
    """CREATE TRIGGER messages_inserted AFTER INSERT ON messages BEGIN
        UPDATE counters SET value = value + NEW.payload_bytes WHERE name = 'payload_bytes'; END""",
    """CREATE TRIGGER messages_deleted AFTER DELETE ON messages BEGIN
        UPDATE counters SET value = value - OLD.payload_bytes WHERE name = 'payload_bytes'; END""",
    "PRAGMA user_version = 1",
)
