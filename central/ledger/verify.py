"""`verify`: read the whole ledger in one snapshot, in seq order, and audit it (audit.py)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Text, cast, select, union
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, scoped_session

from central.ledger.audit import Audit, EntryRow, JournalTransfer, Report
from central.ledger.balances import account_state
from central.ledger.chain import instant_us
from central.ledger.models import Account, ChainHead, Entry, Transfer

FETCH_ROWS = 20_000  # rows per round trip of the server-side cursors


def verify(session: Session) -> Report:
    """Audit every transfer, entry and account, and the chain head. Read-only.

    On PostgreSQL it reads one REPEATABLE READ snapshot when the session has no transaction
    open yet, so postings may go on meanwhile; the caller ends the transaction.
    """
    connection = _snapshot(session)
    accounts = {row.id: account_state(row) for row in connection.execute(select(Account.__table__))}
    referenced = {
        str(value)
        for value in connection.scalars(
            union(
                select(Transfer.pending_id).where(Transfer.pending_id.is_not(None)),
                select(Transfer.reverses_id).where(Transfer.reverses_id.is_not(None)),
            )
        )
    }
    head = connection.execute(
        select(ChainHead.seq, ChainHead.hash).where(ChainHead.id == 1)
    ).first()
    audit = Audit(accounts, referenced)
    for transfer, entries in _journal(connection):
        audit.transfer(transfer, entries)
    return audit.finish(None if head is None else (head.seq, head.hash))


def _snapshot(session: Session) -> Connection:
    """The session's connection, at REPEATABLE READ on PostgreSQL if it can still be chosen."""
    inner = session() if isinstance(session, scoped_session) else session  # Flask's db.session
    if inner.get_bind().dialect.name == "postgresql" and not inner.in_transaction():
        return inner.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return inner.connection()


def _journal(connection: Connection) -> Iterator[tuple[JournalTransfer, list[EntryRow]]]:
    """Each transfer in seq order with its entries in leg order, from two streamed cursors."""
    streamed = connection.execution_options(stream_results=True, yield_per=FETCH_ROWS)
    t = Transfer
    ids = [t.id, t.pending_id, t.reverses_id]
    if connection.dialect.name == "postgresql":  # text is cheaper than uuid.UUID, then str
        ids = [cast(column, Text) for column in ids]
    transfers = streamed.execute(
        select(t.seq, ids[0], t.idempotency_key, t.code, t.state, t.currency, ids[1], ids[2],
               t.metadata_json, t.content_hash, t.prev_hash, t.hash, t.created_at)
        .order_by(t.seq)
    )  # fmt: skip
    entries = streamed.execute(
        select(Entry.transfer_seq, Entry.account_id, Entry.side, Entry.amount_minor).order_by(
            Entry.transfer_seq, Entry.leg
        )
    )
    groups = groupby(_rows(entries), key=itemgetter(0))
    group = next(groups, None)
    for row in _rows(transfers):
        seq = row[0]
        while group is not None and group[0] < seq:  # entries of no transfer: FKs forbid it
            group = next(groups, None)
        legs: list[EntryRow] = []
        if group is not None and group[0] == seq:
            legs = [(e[1], e[2], e[3]) for e in group[1]]
            group = next(groups, None)
        yield _journal_transfer(row), legs


def _rows(result: Any) -> Iterator[Any]:
    """The rows of a streamed result, fetched FETCH_ROWS at a time."""
    for partition in result.partitions(FETCH_ROWS):
        yield from partition


def _journal_transfer(row: object) -> JournalTransfer:
    """A JournalTransfer from a row of the transfer query."""
    seq, tid, key, code, state, currency, pending, reverses, meta, content, prev, link, at = row
    return JournalTransfer(
        seq, str(tid), key, code, state, currency, None if pending is None else str(pending),
        None if reverses is None else str(reverses), meta, content, prev, link, instant_us(at),
    )  # fmt: skip
