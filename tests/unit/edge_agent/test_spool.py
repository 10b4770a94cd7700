"""Tests for edge_agent.spool: the durable, bounded outbox on real SQLite files."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from edge_agent.errors import SpoolError, SpoolFullError
from edge_agent.spool import SCHEMA_VERSION, PutResult, Spool, SpooledMessage

REPO_ROOT = Path(__file__).resolve().parents[3]
BYTES_MAX = 1 << 30
AGE_MS_MAX = 1 << 40


@pytest.fixture
def spool_path(tmp_path: Path) -> Path:
    """Where each test's spool lives, in a folder that does not exist yet."""
    return tmp_path / "spool" / "outbox.db"


@pytest.fixture
def spool(spool_path: Path) -> Iterator[Spool]:
    """A roomy spool: the bounds never bite unless a test opens its own."""
    with Spool(spool_path, bytes_max=BYTES_MAX, age_ms_max=AGE_MS_MAX) as spool:
        yield spool


def ids(messages: list[SpooledMessage]) -> list[int]:
    """The message ids of `messages`, in order."""
    return [message.message_id for message in messages]


def test_put_pending_ack_round_trip(spool: Spool) -> None:
    """A put message comes back intact from pending and is gone once acked."""
    result = spool.put("t/batches", b"\x00payload", now_ms=1_000, source_id="fm1", seq=0)
    assert result.dropped == 0 and result.message_id > 0
    assert spool.pending(10) == [
        SpooledMessage(result.message_id, "t/batches", b"\x00payload", 1_000, "fm1", 0)
    ]
    event = spool.put("t/health", b"{}", now_ms=1_001)
    assert spool.pending(10)[1] == SpooledMessage(
        event.message_id, "t/health", b"{}", 1_001, None, None
    )
    assert spool.ack(result.message_id, now_ms=0) is True
    assert ids(spool.pending(10)) == [event.message_id]


def test_pending_is_oldest_first_with_window_exclusions_and_limit(spool: Spool) -> None:
    """pending goes by message_id, keeps created_ms in [min, max), skips exclusions, obeys limit."""
    put = [
        spool.put("t", bytes([n]), now_ms=ms).message_id for n, ms in enumerate([50, 10, 30, 20])
    ]
    assert ids(spool.pending(10)) == put
    assert ids(spool.pending(2)) == put[:2]
    assert ids(spool.pending(10, created_ms_min=20, created_ms_max=50)) == [put[2], put[3]]
    assert ids(spool.pending(10, created_ms_min=30)) == [put[0], put[2]]
    assert ids(spool.pending(10, created_ms_max=30)) == [put[1], put[3]]
    assert ids(spool.pending(2, exclude_ids={put[0], put[2]})) == [put[1], put[3]]
    assert ids(spool.pending(2, created_ms_min=10, exclude_ids={put[0]})) == [put[1], put[2]]
    assert spool.pending(0) == [] and spool.pending(0, created_ms_min=0) == []


def test_ack_is_idempotent(spool: Spool) -> None:
    """A second ack of the same id, or an ack of an unknown id, is a harmless False."""
    message_id = spool.put("t", b"x", now_ms=0).message_id
    assert spool.ack(message_id, now_ms=0) is True
    assert spool.ack(message_id, now_ms=0) is False
    assert spool.ack(999_999, now_ms=0) is False
    assert spool.stats().depth == 0


def test_message_ids_grow_even_after_the_newest_is_acked(spool: Spool) -> None:
    """An acked id is never handed out again, so the uplink cannot confuse two messages."""
    first = spool.put("t", b"x", now_ms=0).message_id
    spool.ack(first, now_ms=0)
    assert spool.put("t", b"y", now_ms=0).message_id > first


def test_next_seq_grows_and_survives_reopen(spool_path: Path) -> None:
    """next_seq starts at 0, follows the highest seq put, never goes back, and is persisted."""
    with Spool(spool_path, bytes_max=BYTES_MAX, age_ms_max=AGE_MS_MAX) as spool:
        assert spool.next_seq("fm1") == 0
        spool.put("t", b"a", now_ms=0, source_id="fm1", seq=0)
        assert spool.next_seq("fm1") == 1
        spool.put("t", b"b", now_ms=0, source_id="fm1", seq=5)
        spool.put("t", b"c", now_ms=0, source_id="fm1", seq=3)
        assert (spool.next_seq("fm1"), spool.next_seq("fm2")) == (6, 0)
    with Spool(spool_path, bytes_max=BYTES_MAX, age_ms_max=AGE_MS_MAX) as spool:
        assert spool.next_seq("fm1") == 6


def test_next_seq_grows_past_dropped_and_acked_batches(spool_path: Path) -> None:
    """A batch dropped for bytes, and then all batches acked, still leave next_seq past them."""
    with Spool(spool_path, bytes_max=10, age_ms_max=AGE_MS_MAX) as spool:
        spool.put("t", bytes(8), now_ms=0, source_id="fm1", seq=0)
        result = spool.put("t", bytes(8), now_ms=1, source_id="fm1", seq=1)
        assert result.dropped == 1
        spool.ack(result.message_id, now_ms=0)
        assert spool.stats().depth == 0
        assert spool.next_seq("fm1") == 2
    with Spool(spool_path, bytes_max=10, age_ms_max=AGE_MS_MAX) as spool:
        assert spool.next_seq("fm1") == 2


def test_bytes_bound_drops_oldest_first_and_counts(spool_path: Path) -> None:
    """Past bytes_max the oldest messages go first, the new one stays, and drops are counted."""
    with Spool(spool_path, bytes_max=250, age_ms_max=AGE_MS_MAX) as spool:
        first, second = (spool.put("t", bytes(100), now_ms=n).message_id for n in range(2))
        third = spool.put("t", bytes(100), now_ms=2)
        assert third.dropped == 1
        assert ids(spool.pending(10)) == [second, third.message_id]
        big = spool.put("t", bytes(240), now_ms=3)
        assert big.dropped == 2
        assert ids(spool.pending(10)) == [big.message_id]
        stats = spool.stats()
        assert (stats.dropped_for_bytes, stats.payload_bytes, stats.depth) == (3, 240, 1)
        assert first not in ids(spool.pending(10))


def test_age_bound_on_expire_and_on_put(spool_path: Path) -> None:
    """Messages older than age_ms_max are dropped by expire and by put, and counted."""
    with Spool(spool_path, bytes_max=BYTES_MAX, age_ms_max=1_500) as spool:
        old, middle, young = (
            spool.put("t", b"x", now_ms=ms).message_id for ms in (0, 1_000, 1_400)
        )
        assert spool.expire(now_ms=1_500) == 0  # created_ms 0 is exactly at the limit: kept
        assert spool.expire(now_ms=2_600) == 2
        assert ids(spool.pending(10)) == [young]
        result = spool.put("t", b"y", now_ms=4_000)
        assert result.dropped == 1
        assert ids(spool.pending(10)) == [result.message_id]
        assert spool.stats().dropped_for_age == 3
        assert {old, middle}.isdisjoint(ids(spool.pending(10)))


def test_oversized_payload_is_dropped_but_uses_its_seq(spool_path: Path) -> None:
    """A payload bigger than bytes_max is not stored, is counted, and its seq is not reused."""
    with Spool(spool_path, bytes_max=100, age_ms_max=AGE_MS_MAX) as spool:
        kept = spool.put("t", bytes(60), now_ms=0).message_id
        assert spool.put("t", bytes(101), now_ms=1, source_id="fm1", seq=7) == PutResult(-1, 1)
        assert ids(spool.pending(10)) == [kept]
        assert spool.stats().dropped_for_bytes == 1
        assert spool.next_seq("fm1") == 8


def test_stats_report_depth_bytes_oldest_and_file_size(spool: Spool) -> None:
    """stats counts the waiting messages, their bytes, the oldest and the size on disk."""
    empty = spool.stats()
    assert (empty.depth, empty.payload_bytes, empty.oldest_created_ms) == (0, 0, None)
    assert empty.oldest_age_ms(now_ms=5) is None
    spool.put("t", bytes(300), now_ms=2_000)
    spool.put("t", bytes(200), now_ms=1_000)
    stats = spool.stats()
    assert (stats.depth, stats.payload_bytes, stats.oldest_created_ms) == (2, 500, 1_000)
    assert stats.oldest_age_ms(now_ms=4_000) == 3_000
    assert (stats.dropped_for_bytes, stats.dropped_for_age, stats.dropped_for_disk_full) == (
        0,
        0,
        0,
    )
    assert stats.file_bytes > 0


def test_file_shrinks_after_a_backlog_drains(spool: Spool) -> None:
    """Acking a large backlog gives its pages back, so the file does not stay at its peak size."""
    for n in range(1_000):
        spool.put("t", bytes(10_000), now_ms=n)
    peak_bytes = spool.stats().file_bytes
    for message in spool.pending(2_000):
        spool.ack(message.message_id, now_ms=0)
    assert spool.stats().file_bytes < peak_bytes / 2


def test_reopen_keeps_messages_counters_and_pragmas(spool_path: Path) -> None:
    """Closing and reopening keeps messages, drop counters, WAL, FULL sync and auto_vacuum."""
    with Spool(spool_path, bytes_max=10, age_ms_max=AGE_MS_MAX) as spool:
        spool.put("t", bytes(8), now_ms=0)
        kept = spool.put("t/x", bytes(9), now_ms=1, source_id="fm1", seq=4)
        before = spool.pending(10)
    with Spool(spool_path, bytes_max=10, age_ms_max=AGE_MS_MAX) as spool:
        assert spool.pending(10) == before and ids(before) == [kept.message_id]
        stats = spool.stats()
        assert (stats.depth, stats.payload_bytes, stats.dropped_for_bytes) == (1, 9, 1)
        pragma = {
            name: spool._connection.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "auto_vacuum", "user_version")
        }
        assert pragma == {
            "journal_mode": "wal",
            "synchronous": 2,  # FULL
            "auto_vacuum": 2,  # INCREMENTAL
            "user_version": SCHEMA_VERSION,
        }
        assert spool.path == spool_path


_WRITER = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from edge_agent.spool import Spool
spool = Spool(Path(sys.argv[2]), bytes_max=1 << 30, age_ms_max=1 << 40)
for seq in range(1_000_000):
    result = spool.put("t", bytes(2_000), now_ms=seq, source_id="fm1", seq=seq)
    print(result.message_id, flush=True)
"""


def test_every_put_that_returned_survives_kill_9(spool_path: Path) -> None:
    """A writer SIGKILLed mid-loop loses no message whose put returned, and the file stays sound."""
    command = [sys.executable, "-c", _WRITER, str(REPO_ROOT), str(spool_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as writer:
        assert writer.stdout is not None
        printed = [int(writer.stdout.readline()) for _ in range(200)]
        writer.send_signal(signal.SIGKILL)
        rest, _ = writer.communicate()
    assert writer.returncode == -signal.SIGKILL
    printed += [int(line) for line in rest.splitlines()]  # a cut last line cannot be printed
    with Spool(spool_path, bytes_max=BYTES_MAX, age_ms_max=AGE_MS_MAX) as spool:
        assert set(printed) <= set(ids(spool.pending(10**6)))
        assert spool.next_seq("fm1") >= len(printed)
        assert spool._connection.execute("PRAGMA quick_check").fetchall() == [("ok",)]


def fill_the_disk(spool: Spool) -> None:
    """Cap the database at its current size, as a full disk would (test-only)."""
    pages = spool._connection.execute("PRAGMA page_count").fetchone()[0]
    spool._connection.execute(f"PRAGMA max_page_count = {pages}")


def test_disk_full_drops_the_oldest_to_make_room(spool: Spool) -> None:
    """On SQLITE_FULL the oldest tenth is dropped and counted, and the put then succeeds."""
    put = [spool.put("t", bytes(20_000), now_ms=n).message_id for n in range(20)]
    fill_the_disk(spool)
    result = spool.put("t", bytes(20_000), now_ms=20, source_id="fm1", seq=0)
    assert result.message_id > put[-1] and result.dropped == 2
    assert ids(spool.pending(100)) == put[2:] + [result.message_id]
    assert spool.stats().dropped_for_disk_full == 2
    assert spool.next_seq("fm1") == 1


def test_disk_full_beyond_help_raises_spool_full_error(spool: Spool, spool_path: Path) -> None:
    """When dropping cannot make room the put is refused with a clear error, counted, seq used."""
    spool.put("t", b"small", now_ms=0)
    fill_the_disk(spool)
    with pytest.raises(SpoolFullError) as raised:
        spool.put("t", bytes(50_000), now_ms=1, source_id="fm1", seq=3)
    assert f"disk holding {spool_path} is full" in str(raised.value)
    assert "0 messages waiting" in str(raised.value)
    assert spool.stats().dropped_for_disk_full == 2  # the one dropped for room, the one refused
    assert spool.next_seq("fm1") == 4


def test_other_schema_version_is_refused(spool_path: Path) -> None:
    """A spool written by another schema version is refused, saying which version it is."""
    Spool(spool_path, bytes_max=BYTES_MAX, age_ms_max=AGE_MS_MAX).close()
    with closing(sqlite3.connect(spool_path)) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SpoolError, match=f"schema version {SCHEMA_VERSION + 1}, this code reads"):
        Spool(spool_path, bytes_max=BYTES_MAX, age_ms_max=AGE_MS_MAX)


def test_foreign_sqlite_file_is_refused(spool_path: Path) -> None:
    """An SQLite file with tables but no spool version is refused, not converted to a spool."""
    spool_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(spool_path)) as connection:
        connection.execute("CREATE TABLE other (x)")
    with pytest.raises(SpoolError, match="schema version 0"):
        Spool(spool_path, bytes_max=BYTES_MAX, age_ms_max=AGE_MS_MAX)
    with closing(sqlite3.connect(spool_path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # untouched


def test_corrupt_file_is_refused_naming_it(spool_path: Path) -> None:
    """A file that is not a sound database raises SpoolError naming it, so it can be moved aside."""
    spool_path.parent.mkdir(parents=True)
    spool_path.write_bytes(b"not a database at all" * 500)
    with pytest.raises(SpoolError, match="corrupt") as raised:
        Spool(spool_path, bytes_max=BYTES_MAX, age_ms_max=AGE_MS_MAX)
    assert str(spool_path) in str(raised.value)


def test_operations_after_close_raise_spool_error(spool_path: Path) -> None:
    """Using a closed spool is a SpoolError naming the file, and closing twice is harmless."""
    spool = Spool(spool_path, bytes_max=BYTES_MAX, age_ms_max=AGE_MS_MAX)
    spool.close()
    spool.close()
    with pytest.raises(SpoolError, match=str(spool_path)):
        spool.put("t", b"x", now_ms=0)


def test_concurrent_puts_and_acks_lose_nothing(spool: Spool) -> None:
    """Two threads putting while a third acks: every message is acked exactly once."""
    producers_done = threading.Event()

    def produce(source_id: str) -> list[int]:
        return [
            spool.put("t", bytes(100), now_ms=seq, source_id=source_id, seq=seq).message_id
            for seq in range(300)
        ]

    def consume() -> list[int]:
        acked: list[int] = []
        while True:
            finished = producers_done.is_set()
            batch = spool.pending(25)
            for message in batch:
                assert spool.ack(message.message_id, now_ms=0)
                acked.append(message.message_id)
            if finished and not batch:
                return acked

    with ThreadPoolExecutor(max_workers=3) as pool:
        consumer = pool.submit(consume)
        producers = [pool.submit(produce, source_id) for source_id in ("fm1", "fm2")]
        put = [message_id for producer in producers for message_id in producer.result()]
        producers_done.set()
        acked = consumer.result()
    assert sorted(acked) == sorted(put) and len(set(put)) == 600
    assert (spool.next_seq("fm1"), spool.next_seq("fm2")) == (300, 300)
    assert spool.stats().depth == 0 and spool.stats().payload_bytes == 0


def test_two_openers_of_a_new_file_both_succeed(tmp_path: Path) -> None:
    """The agent and a reader (`zamio-agent inspect`, a test) opening a new spool at the same
    moment: one creates the schema, the other uses it, neither fails."""

    def open_it(path: Path, barrier: threading.Barrier) -> int:
        barrier.wait()
        with Spool(path, bytes_max=10**9, age_ms_max=10**12) as opened:
            return opened.stats().depth

    for attempt in range(40):
        path, barrier = tmp_path / f"race-{attempt}.db", threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(open_it, path, barrier) for _ in range(2)]
            assert [f.result() for f in futures] == [0, 0]


def test_is_empty_follows_put_and_ack(spool: Spool) -> None:
    """is_empty (what shutdown and --exit-when-done wait on) is false while a message waits."""
    assert spool.is_empty()
    message_id = spool.put("t", b"x", now_ms=0).message_id
    assert not spool.is_empty()
    spool.ack(message_id, now_ms=0)
    assert spool.is_empty()
