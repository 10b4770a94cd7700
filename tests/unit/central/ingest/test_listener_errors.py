"""The listener tells a database that is away (pause, no ack) from a payload the database
refuses (quarantine, ack), using errors raised by a real database driver."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DataError, IntegrityError

from central.ingest.listener import is_transient


def test_a_database_that_cannot_be_reached_is_transient(tmp_path: Path) -> None:
    """An SQLite file in a directory that does not exist: OperationalError, transient."""
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'z.db'}")
    with pytest.raises(Exception) as caught:
        engine.connect()
    engine.dispose()
    assert is_transient(caught.value)
    assert is_transient(ConnectionRefusedError(111, "refused"))


def test_a_refused_row_is_permanent(tmp_path: Path) -> None:
    """A unique key violated: IntegrityError, not transient (it is quarantined)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'z.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (k INTEGER UNIQUE)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(IntegrityError) as caught, engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    assert not is_transient(caught.value)
    assert not is_transient(DataError("INSERT", {}, ValueError("out of range")))
