"""The agent's on-disk outbox: every MQTT message waits in SQLite (WAL) until central stored it.

A put that returned survives kill -9 and power loss (WAL, synchronous=FULL, one transaction per
put). Bounded by payload bytes and age, oldest dropped first, every drop counted in the file. A
source's next_seq only grows, even past dropped batches. Times come in as `now_ms` (UTC ms).

A message the broker acknowledged as stored (`ack`) is not deleted but kept as *delivered* in a
journal bounded by journal_ms_max and journal_bytes_max, so that central can ask for a lost
range again (`repend` makes it pending once more). Journal rows are invisible to `pending`,
`stats().depth` and `is_empty`, and they are the first to go under byte or disk pressure: a
pending message is never dropped while a journal row could make room instead.
Schema version 2 added the journal; a version 1 file is upgraded in place when opened.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.errors import SpoolError, SpoolFullError
from edge_agent.spool_schema import SCHEMA, SCHEMA_VERSION, UPGRADE_FROM_1

logger = logging.getLogger(__name__)

WAL_SWITCH_TRIES_MAX = 100  # x WAL_SWITCH_WAIT_S: how long a busy new file may hold us up
WAL_SWITCH_WAIT_S = 0.05
BUSY_TIMEOUT_MS = 5_000
FREE_BYTES_VACUUM_MIN = 1 << 20  # free pages past this are given back to the file system
WAL_BYTES_MAX = 1 << 20  # journal_size_limit: the -wal file is cut back to this after a checkpoint
PAGE_BYTES = 16384  # SQLite page size of a new spool
WAL_AUTOCHECKPOINT_PAGES = 64  # checkpoint every ~1 MiB of WAL, so the WAL never eats the disk
DISK_WARN_INTERVAL_S = 60.0  # the low-disk warning is logged at most this often
DISK_FREE_BYTES_MIN = 16 << 20  # below this much free space, the oldest make room for the newest
DISK_FULL_DROP_DIVISOR = 10  # on a full disk, drop depth // 10 of the oldest (at least 1) and retry


_COLUMNS = "message_id, topic, payload, created_ms, source_id, seq"
# (message_id, payload_bytes, delivered_ms) of the next row to give up its room
_OLDEST_JOURNAL_ROW = """SELECT message_id, payload_bytes, delivered_ms FROM messages
    INDEXED BY messages_delivered_ms WHERE delivered_ms IS NOT NULL
    ORDER BY delivered_ms, message_id LIMIT 1"""
_OLDEST_PENDING_ROW = """SELECT message_id, payload_bytes, delivered_ms FROM messages
    INDEXED BY messages_pending WHERE delivered_ms IS NULL ORDER BY message_id LIMIT 1"""
_CREATED_MS_END = (1 << 63) - 1  # no created_ms_max: everything before the end of SQLite's integers


@dataclass(frozen=True)
class SpooledMessage:
    """One message waiting for its successful PUBACK; source_id and seq are None for events."""

    message_id: int
    topic: str
    payload: bytes
    created_ms: int
    source_id: str | None
    seq: int | None


@dataclass(frozen=True)
class SpoolStats:
    """How full the spool is and how much it has dropped since it was created.

    depth, payload_bytes and oldest_created_ms are of pending messages only; the journal of
    delivered ones is journal_depth and journal_bytes. Journal rows evicted are not counted as
    dropped: central has them.
    """

    depth: int
    payload_bytes: int
    oldest_created_ms: int | None
    dropped_for_bytes: int
    dropped_for_age: int
    dropped_for_disk_full: int
    file_bytes: int
    journal_depth: int
    journal_bytes: int

    def oldest_age_ms(self, now_ms: int) -> int | None:
        """How long the oldest waiting message has waited at `now_ms`; None when empty."""
        return None if self.oldest_created_ms is None else now_ms - self.oldest_created_ms


@dataclass(frozen=True)
class PutResult:
    """The stored message's id (-1 if it was dropped at once) and how many messages were dropped."""

    message_id: int
    dropped: int


class Spool:
    """A bounded, durable outbox of MQTT messages in one SQLite file."""

    def __init__(
        self,
        path: Path,
        *,
        bytes_max: int,
        age_ms_max: int,
        disk_free_bytes_min: int = DISK_FREE_BYTES_MIN,
        journal_ms_max: int = 0,
        journal_bytes_max: int = 0,
    ) -> None:
        """Open or create the spool at `path`; refuse a corrupt file or another schema version.

        The journal bounds default to 0: a delivered message is gone at the next ack or put.
        """
        assert bytes_max > 0 and age_ms_max > 0, (bytes_max, age_ms_max)
        assert journal_ms_max >= 0 and journal_bytes_max >= 0, (journal_ms_max, journal_bytes_max)
        self._path = Path(path)
        self._bytes_max = bytes_max
        self._journal_ms_max = journal_ms_max
        self._journal_bytes_max = journal_bytes_max
        self._disk_free_bytes_min = disk_free_bytes_min
        self._age_ms_max = age_ms_max
        self._lock = threading.Lock()
        self._disk_warned_until = 0.0
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = sqlite3.connect(
                self._path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,  # busy_timeout
                check_same_thread=False,
            )  # fmt: skip
        except sqlite3.Error as error:
            raise self._error("open", error) from error
        try:
            self._open()
        except BaseException:
            self._connection.close()
            raise

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def close(self) -> None:
        """Close the connection; idempotent."""
        with self._lock:
            self._connection.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def next_seq(self, source_id: str) -> int:
        """The next seq for `source_id`: 0 for a new source, else the highest seq put plus one."""
        with self._lock, self._guarded("next_seq"):
            row = self._one("SELECT next_seq FROM sources WHERE source_id = ?", (source_id,))
        return 0 if row is None else int(row[0])

    def put(
        self,
        topic: str,
        payload: bytes,
        *,
        now_ms: int,
        source_id: str | None = None,
        seq: int | None = None,
    ) -> PutResult:
        """Store one message in one committed transaction; drop the oldest to keep the bounds."""
        assert seq is None or (source_id is not None and seq >= 0), (source_id, seq)
        with self._lock:
            if len(payload) > self._bytes_max:
                return self._drop_oversized(topic, len(payload), source_id, seq)
            made_room = self._make_room_on_disk(len(payload))
            result = self._try_put(topic, payload, now_ms, source_id, seq)
            if result is None and self._drop_journal_for_disk_full():
                result = self._try_put(topic, payload, now_ms, source_id, seq)
            if result is None:
                dropped_for_disk_full = self._drop_for_disk_full()
                result = self._try_put(topic, payload, now_ms, source_id, seq)
                if result is None:
                    raise self._refuse_for_disk_full(source_id, seq)
                result = PutResult(result.message_id, result.dropped + dropped_for_disk_full)
            if result.dropped:
                self._vacuum_if_free()
            return PutResult(result.message_id, result.dropped + made_room)

    def _make_room_on_disk(self, payload_bytes: int) -> int:
        """Below disk_free_bytes_min free, drop journal rows, then the oldest pending, until
        their bytes cover the new one; return how many pending messages were dropped.

        SQLite reuses the freed pages, so the file stops growing: the spool becomes a ring of
        the newest messages instead of filling the disk until even a DELETE cannot be written.
        """
        stat = os.statvfs(self._path.parent)
        if stat.f_bavail * stat.f_frsize >= self._disk_free_bytes_min:
            return 0
        try:
            with self._transaction():
                dropped = freed = 0
                while freed < payload_bytes:
                    row = self._one(_OLDEST_JOURNAL_ROW) or self._one(_OLDEST_PENDING_ROW)
                    if row is None:
                        break
                    self._connection.execute("DELETE FROM messages WHERE message_id = ?", (row[0],))
                    dropped, freed = dropped + (row[2] is None), freed + row[1]
                self._add_counter("dropped_for_disk_full", dropped)
        except sqlite3.Error as error:
            if not _is_disk_full(error):
                raise self._error("put", error) from error
            return 0
        if dropped and time.monotonic() >= self._disk_warned_until:
            self._disk_warned_until = time.monotonic() + DISK_WARN_INTERVAL_S
            logger.warning(
                "spool %s: less than %d bytes free on its disk: dropping the oldest"
                " messages to make room",
                self._path,
                self._disk_free_bytes_min,
            )
        return dropped

    def pending(
        self,
        limit: int,
        *,
        created_ms_min: int | None = None,
        created_ms_max: int | None = None,
        exclude_ids: Collection[int] = (),
    ) -> list[SpooledMessage]:
        """Up to `limit` pending messages, oldest first, created in [min, max), not excluded."""
        assert limit >= 0, limit
        excluded = set(exclude_ids)
        created_ms_max = _CREATED_MS_END if created_ms_max is None else created_ms_max
        with self._lock, self._guarded("pending"):
            if created_ms_min is None:
                rows = self._oldest_rows(limit, created_ms_max, excluded)
            else:
                rows = self._window_rows(limit, created_ms_min, created_ms_max, excluded)
        return [SpooledMessage(*row) for row in rows]

    def ack(self, message_id: int, now_ms: int) -> bool:
        """Move a stored message to the journal, delivered at `now_ms`, and keep the journal's
        bounds; False if it was not pending (acked before, or dropped)."""
        with self._lock:
            with self._guarded("ack"), self._transaction():
                marked = self._connection.execute(
                    "UPDATE messages SET delivered_ms = ? WHERE message_id = ?"
                    " AND delivered_ms IS NULL",
                    (now_ms, message_id),
                ).rowcount
                evicted = self._trim_journal(now_ms)
            if evicted:
                self._vacuum_if_free()
            return marked > 0

    def repend(self, source_id: str, seq_from: int, seq_to: int) -> list[int]:
        """Make the source's journal rows with seq in [seq_from, seq_to] pending again; return
        every seq of that range the spool holds (pending before or now), ascending."""
        assert 0 <= seq_from <= seq_to, (seq_from, seq_to)
        where = "source_id = ? AND seq >= ? AND seq <= ?"
        params = (source_id, seq_from, seq_to)
        with self._lock, self._guarded("repend"), self._transaction():
            self._connection.execute(
                f"UPDATE messages SET delivered_ms = NULL WHERE {where}"
                " AND delivered_ms IS NOT NULL",
                params,
            )
            rows = self._connection.execute(
                f"SELECT DISTINCT seq FROM messages WHERE {where} ORDER BY seq", params
            ).fetchall()
        return [seq for (seq,) in rows]

    def expire(self, now_ms: int) -> int:
        """Drop pending messages created before now_ms - age_ms_max and journal rows past the
        journal's bounds; return how many pending messages were dropped."""
        with self._lock:
            with self._guarded("expire"), self._transaction():
                dropped = self._drop_expired(now_ms)
                evicted = self._trim_journal(now_ms)
            if dropped or evicted:
                self._vacuum_if_free()
            return dropped

    def is_empty(self) -> bool:
        """Nothing waits to be sent (cheap: no count, no file sizes); the journal does not count."""
        with self._lock, self._guarded("is_empty"):
            return self._one("SELECT 1 FROM messages WHERE delivered_ms IS NULL LIMIT 1") is None

    def stats(self) -> SpoolStats:
        """Depth, payload bytes, the oldest message, the drop counters and the size on disk."""
        with self._lock, self._guarded("stats"), self._transaction("BEGIN"):
            counters = dict(self._connection.execute("SELECT name, value FROM counters"))
            depth, oldest_created_ms = self._one(  # from the partial index alone
                "SELECT count(*), min(created_ms) FROM messages INDEXED BY messages_created_ms"
                " WHERE delivered_ms IS NULL"
            )
            (journal_depth,) = self._one(
                "SELECT count(*) FROM messages WHERE delivered_ms IS NOT NULL"
            )
        return SpoolStats(
            depth=depth,
            payload_bytes=counters["payload_bytes"],
            oldest_created_ms=oldest_created_ms,
            dropped_for_bytes=counters["dropped_for_bytes"],
            dropped_for_age=counters["dropped_for_age"],
            dropped_for_disk_full=counters["dropped_for_disk_full"],
            file_bytes=self._file_bytes(),
            journal_depth=journal_depth,
            journal_bytes=counters["journal_bytes"],
        )

    def _open(self) -> None:
        """Check the file, create the schema on a new file, and set the durability pragmas."""
        connection = self._connection
        with self._guarded("open"):
            # A new file only, and only before anything reads it: ~1.2 kB batches waste a third
            # of a 4 KiB page (two fit), while 16 KiB pages hold 13. No effect on an existing file.
            connection.execute(f"PRAGMA page_size = {PAGE_BYTES}")
            # Likewise takes effect only before the first table exists, and not in a transaction.
            connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
            self._check_integrity()
            # Under the write lock, so that two processes opening a new file at once (the agent
            # and a reader) see one consistent answer and only one creates the schema.
            with self._transaction():
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if (
                    version == 0
                    and not connection.execute("SELECT 1 FROM sqlite_master").fetchone()
                ):
                    for statement in SCHEMA:
                        connection.execute(statement)
                elif version == 1:
                    for statement in UPGRADE_FROM_1:
                        connection.execute(statement)
                    logger.info("spool %s: upgraded from schema version 1 to 2", self._path)
                elif version != SCHEMA_VERSION:
                    raise SpoolError(
                        f"spool {self._path}: schema version {version}, this code reads "
                        f"{SCHEMA_VERSION}; move the file aside to start an empty spool"
                    )
            self._use_wal()
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute(f"PRAGMA journal_size_limit = {WAL_BYTES_MAX}")
            connection.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
            self._page_bytes = connection.execute("PRAGMA page_size").fetchone()[0]

    def _use_wal(self) -> None:
        """Switch to WAL. SQLite does not wait on a busy file for this, so wait here."""
        for _ in range(WAL_SWITCH_TRIES_MAX):
            try:
                mode = self._connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error):
                    raise
                time.sleep(WAL_SWITCH_WAIT_S)
        else:
            raise SpoolError(f"spool {self._path}: busy: could not switch it to WAL")
        if mode != "wal":
            raise SpoolError(f"spool {self._path}: cannot use WAL (journal_mode is {mode})")

    def _check_integrity(self) -> None:
        """Raise SpoolError naming the file when PRAGMA quick_check finds it is not sound."""
        try:
            rows = self._connection.execute("PRAGMA quick_check").fetchall()
        except sqlite3.OperationalError:
            raise  # locked or unreadable: not evidence of corruption
        except sqlite3.DatabaseError as error:  # e.g. "file is not a database"
            rows = [(str(error),)]
        if rows != [("ok",)]:
            problems = "; ".join(str(row[0]) for row in rows[:5])
            raise SpoolError(
                f"spool {self._path} is corrupt ({problems}); move it aside to start an empty spool"
            )

    def _try_put(
        self, topic: str, payload: bytes, now_ms: int, source_id: str | None, seq: int | None
    ) -> PutResult | None:
        """Insert, advance the seq and keep the bounds in one transaction; None on a full disk."""
        try:
            with self._transaction():
                message_id = self._connection.execute(
                    "INSERT INTO messages (topic, payload, payload_bytes, created_ms, source_id,"
                    " seq) VALUES (?, ?, ?, ?, ?, ?)",
                    (topic, payload, len(payload), now_ms, source_id, seq),
                ).lastrowid
                assert message_id is not None
                self._advance_seq(source_id, seq)
                dropped = self._drop_expired(now_ms) + self._drop_for_bytes(message_id)
                self._trim_journal(now_ms)
        except sqlite3.Error as error:
            if _is_disk_full(error):
                return None
            raise self._error("put", error) from error
        return PutResult(message_id, dropped)

    def _drop_oversized(
        self, topic: str, payload_bytes: int, source_id: str | None, seq: int | None
    ) -> PutResult:
        """Count a payload larger than bytes_max as dropped, but still use up its seq."""
        with self._guarded("put"):
            self._count_lost_put("dropped_for_bytes", source_id, seq)
        logger.warning(
            "spool %s: dropped a %d-byte message on %s: over bytes_max %d",
            self._path, payload_bytes, topic, self._bytes_max,
        )  # fmt: skip
        return PutResult(message_id=-1, dropped=1)

    def _drop_journal_for_disk_full(self) -> int:
        """Delete the whole journal to make room on a full disk; return how many rows went."""
        try:
            with self._transaction():
                evicted = self._connection.execute(
                    "DELETE FROM messages WHERE delivered_ms IS NOT NULL"
                ).rowcount
        except sqlite3.Error as error:
            if not _is_disk_full(error):
                raise self._error("put", error) from error
            return 0
        if evicted:
            logger.warning("spool %s: disk full: emptied the delivered-journal", self._path)
        return evicted

    def _drop_for_disk_full(self) -> int:
        """Drop the oldest tenth of the pending (at least one) to make room; return how many."""
        with contextlib.suppress(sqlite3.Error):  # a checkpoint gives the WAL's space back
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        try:
            with self._transaction():
                depth = self._one("SELECT count(*) FROM messages WHERE delivered_ms IS NULL")[0]
                dropped = self._connection.execute(
                    "DELETE FROM messages WHERE message_id IN (SELECT message_id FROM messages"
                    " INDEXED BY messages_pending WHERE delivered_ms IS NULL"
                    " ORDER BY message_id LIMIT ?)",
                    (max(1, depth // DISK_FULL_DROP_DIVISOR),),
                ).rowcount
                self._add_counter("dropped_for_disk_full", dropped)
        except sqlite3.Error as error:
            if not _is_disk_full(error):
                raise self._error("put", error) from error
            dropped = 0
        logger.warning("spool %s: disk full: dropped the %d oldest messages", self._path, dropped)
        return dropped

    def _refuse_for_disk_full(self, source_id: str | None, seq: int | None) -> SpoolFullError:
        """Count a refused put and use up its seq, as far as the disk allows; the error to raise."""
        try:
            self._count_lost_put("dropped_for_disk_full", source_id, seq)
        except sqlite3.Error as error:
            logger.warning("spool %s: could not count a refused put: %s", self._path, error)
        with self._guarded("put"):
            depth = self._one("SELECT count(*) FROM messages WHERE delivered_ms IS NULL")[0]
        return SpoolFullError(
            f"the disk holding {self._path} is full: put refused with {depth} messages waiting;"
            " free space on that disk or lower the spool's bytes_max"
        )

    def _count_lost_put(self, counter: str, source_id: str | None, seq: int | None) -> None:
        """Count a message lost before it was stored, and use up its seq all the same."""
        with self._transaction():
            self._add_counter(counter, 1)
            self._advance_seq(source_id, seq)

    def _oldest_rows(self, limit: int, created_ms_max: int, excluded: set[int]) -> list[Any]:
        """The first rows in message_id order created before created_ms_max, stepped lazily."""
        rows: list[Any] = []
        cursor = self._connection.execute(  # in message_id order, over pending rows only
            f"SELECT {_COLUMNS} FROM messages INDEXED BY messages_pending"
            " WHERE delivered_ms IS NULL AND created_ms < ? ORDER BY message_id",
            (created_ms_max,),
        )
        with contextlib.closing(cursor):
            for row in cursor:  # reads limit + len(excluded) rows at most
                if len(rows) >= limit:
                    break
                if row[0] not in excluded:
                    rows.append(row)
        return rows

    def _window_rows(
        self, limit: int, created_ms_min: int, created_ms_max: int, excluded: set[int]
    ) -> list[Any]:
        """The oldest rows created in [min, max): ids from the index alone, then those rows."""
        window = self._connection.execute(
            "SELECT message_id FROM messages INDEXED BY messages_created_ms"
            " WHERE created_ms >= ? AND created_ms < ? AND delivered_ms IS NULL",
            (created_ms_min, created_ms_max),
        )
        chosen = heapq.nsmallest(limit, (i for (i,) in window if i not in excluded))
        sql = f"SELECT {_COLUMNS} FROM messages WHERE message_id = ?"
        return [self._one(sql, (message_id,)) for message_id in chosen]

    def _drop_expired(self, now_ms: int) -> int:
        """Delete pending messages created before now_ms - age_ms_max, count them; how many."""
        dropped = self._connection.execute(
            "DELETE FROM messages WHERE created_ms < ? AND delivered_ms IS NULL",
            (now_ms - self._age_ms_max,),
        ).rowcount
        self._add_counter("dropped_for_age", dropped)
        return dropped

    def _trim_journal(self, now_ms: int) -> int:
        """Evict journal rows delivered before now_ms - journal_ms_max, then the oldest until
        the journal fits journal_bytes_max; return how many went."""
        evicted = self._connection.execute(
            "DELETE FROM messages WHERE delivered_ms < ?", (now_ms - self._journal_ms_max,)
        ).rowcount
        return evicted + self._evict_journal(self._journal_bytes_max)

    def _evict_journal(self, journal_bytes_max: int) -> int:
        """Delete the oldest-delivered journal rows until their bytes fit; return how many."""
        (journal_bytes,) = self._one("SELECT value FROM counters WHERE name = 'journal_bytes'")
        evicted = 0
        while journal_bytes > journal_bytes_max:
            row = self._one(_OLDEST_JOURNAL_ROW)
            assert row is not None, "journal_bytes counts journal rows only"
            self._connection.execute("DELETE FROM messages WHERE message_id = ?", (row[0],))
            journal_bytes -= row[1]
            evicted += 1
        return evicted

    def _drop_for_bytes(self, keep_id: int) -> int:
        """Evict journal rows, then drop the oldest pending before `keep_id`, until pending and
        journal bytes fit bytes_max; count and return the pending dropped."""
        (total_bytes,) = self._one("SELECT value FROM counters WHERE name = 'payload_bytes'")
        self._evict_journal(max(0, self._bytes_max - total_bytes))  # the journal goes first
        dropped = 0
        while total_bytes > self._bytes_max:
            row = self._one(
                "SELECT message_id, payload_bytes FROM messages INDEXED BY messages_pending"
                " WHERE delivered_ms IS NULL AND message_id < ? ORDER BY message_id LIMIT 1",
                (keep_id,),
            )
            assert row is not None, "the kept message alone fits bytes_max"
            self._connection.execute("DELETE FROM messages WHERE message_id = ?", (row[0],))
            total_bytes -= row[1]
            dropped += 1
        self._add_counter("dropped_for_bytes", dropped)
        return dropped

    def _advance_seq(self, source_id: str | None, seq: int | None) -> None:
        """Raise the source's next_seq to seq + 1 (never lower it); nothing when seq is None."""
        if seq is None:
            return
        self._connection.execute(
            "INSERT INTO sources (source_id, next_seq) VALUES (?, ?) ON CONFLICT (source_id)"
            " DO UPDATE SET next_seq = max(next_seq, excluded.next_seq)",
            (source_id, seq + 1),
        )

    def _one(self, sql: str, params: tuple[object, ...] = ()) -> Any:
        """The first row of a query, or None."""
        return self._connection.execute(sql, params).fetchone()

    def _add_counter(self, name: str, count: int) -> None:
        """Add `count` to one counter row."""
        if count:
            self._connection.execute(
                "UPDATE counters SET value = value + ? WHERE name = ?", (count, name)
            )

    def _vacuum_if_free(self) -> None:
        """Give free pages back to the file system once they pass FREE_BYTES_VACUUM_MIN."""
        connection = self._connection
        try:
            free_pages = connection.execute("PRAGMA freelist_count").fetchone()[0]
            if free_pages * self._page_bytes < FREE_BYTES_VACUUM_MIN:
                return
            # sqlite3's execute steps this pragma once (one page); executescript runs it to the end
            connection.executescript("PRAGMA incremental_vacuum;")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as error:  # the messages are safe; shrinking can wait for next time
            logger.warning("spool %s: could not shrink the file: %s", self._path, error)

    def _file_bytes(self) -> int:
        """The size of the database file plus its -wal file."""
        total = 0
        for path in (self._path, self._path.with_name(self._path.name + "-wal")):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    @contextlib.contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
        """One transaction, committed at the end of the block and rolled back on any error."""
        connection = self._connection
        connection.execute(begin)
        try:
            yield
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:  # SQLite may already have rolled back, e.g. when full
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _guarded(self, doing: str) -> Iterator[None]:
        """Turn a sqlite3 error inside the block into a SpoolError naming the file."""
        try:
            yield
        except sqlite3.Error as error:
            raise self._error(doing, error) from error

    def _error(self, doing: str, error: sqlite3.Error) -> SpoolError:
        """A SpoolError for a failed operation, naming the file."""
        return SpoolError(f"spool {self._path}: {doing} failed: {error}")


def _is_disk_full(error: sqlite3.Error) -> bool:
    """Whether a sqlite3 error is SQLITE_FULL ("database or disk is full")."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == sqlite3.SQLITE_FULL)
    return "database or disk is full" in str(error)
