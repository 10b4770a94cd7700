"""The spool's SQLite schema (edge_agent/spool.py): tables, indexes and triggers, and the
in-place upgrade from each older version. SQL text only."""

from __future__ import annotations

SCHEMA_VERSION = 2  # version 1 had no journal; UPGRADE_FROM_1 converts such a file


def _counter_of(row: str) -> str:
    """SQL naming the byte counter of a trigger's NEW or OLD row: pending or journal."""
    return f"CASE WHEN {row}.delivered_ms IS NULL THEN 'payload_bytes' ELSE 'journal_bytes' END"


# delivered_ms NULL: pending; else when the broker acknowledged it (a journal row).
_MESSAGES_SCHEMA = (
    # payload last: the other columns stay on the row's own page, so scans never read overflow pages
    """CREATE TABLE messages (message_id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
        payload_bytes INTEGER NOT NULL, created_ms INTEGER NOT NULL, source_id TEXT, seq INTEGER,
        delivered_ms INTEGER, payload BLOB NOT NULL)""",
    # Partial indexes: the uplink's scans never step over the (possibly long) journal.
    "CREATE INDEX messages_created_ms ON messages (created_ms) WHERE delivered_ms IS NULL",
    "CREATE INDEX messages_pending ON messages (message_id) WHERE delivered_ms IS NULL",
    """CREATE INDEX messages_delivered_ms ON messages (delivered_ms)
        WHERE delivered_ms IS NOT NULL""",
    "CREATE INDEX messages_source_seq ON messages (source_id, seq)",
    # Triggers keep the running totals right for every insert, delete and (un)delivery, in the
    # same transaction: payload_bytes counts pending messages, journal_bytes delivered ones.
    f"""CREATE TRIGGER messages_inserted AFTER INSERT ON messages BEGIN
        UPDATE counters SET value = value + NEW.payload_bytes WHERE name = {_counter_of("NEW")};
        END""",
    f"""CREATE TRIGGER messages_deleted AFTER DELETE ON messages BEGIN
        UPDATE counters SET value = value - OLD.payload_bytes WHERE name = {_counter_of("OLD")};
        END""",
    f"""CREATE TRIGGER messages_delivered AFTER UPDATE OF delivered_ms ON messages
        WHEN (OLD.delivered_ms IS NULL) != (NEW.delivered_ms IS NULL) BEGIN
        UPDATE counters SET value = value - OLD.payload_bytes WHERE name = {_counter_of("OLD")};
        UPDATE counters SET value = value + NEW.payload_bytes WHERE name = {_counter_of("NEW")};
        END""",
)
SCHEMA = (
    "CREATE TABLE sources (source_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL)",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    """INSERT INTO counters (name, value) VALUES ('payload_bytes', 0), ('journal_bytes', 0),
        ('dropped_for_bytes', 0), ('dropped_for_age', 0), ('dropped_for_disk_full', 0)""",
    *_MESSAGES_SCHEMA,
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
# Version 1 -> 2: the old table aside, the new one filled from it (the insert trigger recounts
# payload_bytes), the AUTOINCREMENT sequence carried over so message ids keep growing.
UPGRADE_FROM_1 = (
    "ALTER TABLE messages RENAME TO messages_v1",
    "DROP INDEX messages_created_ms",
    "DROP TRIGGER messages_inserted",
    "DROP TRIGGER messages_deleted",
    *_MESSAGES_SCHEMA,
    "UPDATE counters SET value = 0 WHERE name = 'payload_bytes'",
    "INSERT OR IGNORE INTO counters (name, value) VALUES ('journal_bytes', 0)",
    # before the copy: the copy then only raises the sequence, never lowers it
    """INSERT INTO sqlite_sequence (name, seq) SELECT 'messages', seq FROM sqlite_sequence
        WHERE name = 'messages_v1'""",
    """INSERT INTO messages (message_id, topic, payload_bytes, created_ms, source_id, seq, payload)
        SELECT message_id, topic, payload_bytes, created_ms, source_id, seq, payload
        FROM messages_v1""",
    "DROP TABLE messages_v1",
    "PRAGMA user_version = 2",
)
