"""Posting transfers: idempotent, balanced, within balance rules, chained, without deadlocks.

One posting, in the caller's transaction (the caller commits, e.g. with retry.run_in_transaction):
1. in a SAVEPOINT, lock the transfer's accounts (SELECT ... FOR UPDATE, ordered by account id,
   so two postings lock shared accounts in the same order and cannot deadlock);
2. a transfer with the same idempotency key is the answer (same content) or IdempotencyConflict
   (looked for under the locks: a retry of the same content waited for them, and now sees it);
3. compute the new totals and check the balance rules (pure: balances.py), write the totals,
   lock the chain head (always after the accounts: one total lock order), append the transfer
   and its entries at the next seq with the next chain hash, and move the head;
4. if the database refuses the insert (the key, or the resolution of the pending transfer, came
   in from a transaction that locked other accounts), roll back to the savepoint and answer as
   in 2, or AlreadyResolved / AlreadyReversed.
Holding the chain head from step 3 to commit makes the journal's order the commit order; it is
also the one point all postings pass one at a time (see bench/ledger.py for what that costs).
Behind the code, the database refuses what a bug here would do: totals below zero or below a
floor (CHECK), posted totals that shrink, i.e. a lost update (trigger), a key used twice (UNIQUE).
Transactions run at READ COMMITTED (PostgreSQL's default): each statement sees what committed
before it, which is what the second look for the key relies on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.extensions import utc_now
from central.ledger import balances, chain
from central.ledger.balances import AccountState
from central.ledger.errors import (
    AlreadyResolved,
    AlreadyReversed,
    CurrencyMismatch,
    IdempotencyConflict,
    NotPending,
    NotReversible,
    TransferNotFound,
    UnknownAccount,
)
from central.ledger.models import Account, ChainHead, Entry, Transfer
from central.ledger.transfer import (
    MONEY_STATES,
    PENDING,
    Draft,
    Leg,
    TransferRequest,
    draft,
    resolution_draft,
    reversal_draft,
)
from central.times import as_utc

logger = logging.getLogger(__name__)
# Called with each transfer just appended, in the posting's savepoint (so a refused posting
# undoes its effects too): the journal's derived tables (central/royalties/rollup.py) keep up.
AppendHook = Callable[[Session, Transfer, Mapping[str, AccountState]], None]
APPEND_HOOKS: list[AppendHook] = []
_ACCOUNT = Account.__table__
_HEAD = ChainHead.__table__
# Statements built once (building them is most of a posting's CPU time in SQLAlchemy).
_BY_KEY = select(Transfer.id, Transfer.content_hash).where(
    Transfer.idempotency_key == bindparam("key")
)
_LOCK_ACCOUNTS = (
    select(_ACCOUNT)
    .where(_ACCOUNT.c.code.in_(bindparam("codes", expanding=True)))
    .order_by(_ACCOUNT.c.id)
    .with_for_update()
)
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_CREATED_AT = select(Transfer.created_at).where(Transfer.seq == bindparam("seq"))
_MOVE_HEAD = (
    update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
)
# PostgreSQL: every account's totals in one statement, from arrays.
_SAVE_TOTALS_PG = text(
    "UPDATE ledger_account AS a SET debits_posted_minor = v.dp, credits_posted_minor = v.cp,"
    " debits_pending_minor = v.dh, credits_pending_minor = v.ch"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:dp AS bigint[]), CAST(:cp AS bigint[]),"
    " CAST(:dh AS bigint[]), CAST(:ch AS bigint[])) AS v(id, dp, cp, dh, ch) WHERE a.id = v.id"
)


def post_transfer(session: Session, request: TransferRequest) -> Transfer:
    """Post `request` (or hold it, if pending); the same request again returns the same transfer."""
    return post_draft(session, draft(request))


def post_pending(
    session: Session,
    pending_id: uuid.UUID | str,
    idempotency_key: str,
    metadata: Mapping[str, Any] | None = None,
) -> Transfer:
    """Post the money a pending transfer holds, as a new transfer with its legs."""
    return _resolve(session, pending_id, idempotency_key, True, metadata)


def void_pending(
    session: Session,
    pending_id: uuid.UUID | str,
    idempotency_key: str,
    metadata: Mapping[str, Any] | None = None,
) -> Transfer:
    """Release the money a pending transfer holds, as a new transfer with its legs."""
    return _resolve(session, pending_id, idempotency_key, False, metadata)


def reverse(
    session: Session,
    transfer_id: uuid.UUID | str,
    idempotency_key: str,
    metadata: Mapping[str, Any] | None = None,
) -> Transfer:
    """Undo a posted transfer with a new one (code 'reversal'): its legs on the other side."""
    original = stored_draft(session, transfer_id)
    if original.state not in MONEY_STATES:
        raise NotReversible(f"transfer {original.id} is {original.state}: it moved no money")
    return post_draft(session, reversal_draft(original, idempotency_key, metadata))


def _resolve(
    session: Session,
    pending_id: uuid.UUID | str,
    idempotency_key: str,
    post: bool,
    metadata: Mapping[str, Any] | None,
) -> Transfer:
    """post_pending (post=True) or void_pending."""
    pending = stored_draft(session, pending_id)
    if pending.state != PENDING:
        raise NotPending(f"transfer {pending.id} is {pending.state}, not pending")
    return post_draft(session, resolution_draft(pending, post, idempotency_key, metadata))


def post_draft(session: Session, new: Draft) -> Transfer:
    """Post a valid Draft (steps in the module docstring)."""
    try:
        with session.begin_nested():
            return _post_locked(session, new)
    except IntegrityError:
        existing = _by_key(session, new)
        if existing is not None:
            return existing
        _check_unresolved(session, new)
        raise


def _post_locked(session: Session, new: Draft) -> Transfer:
    """Lock the accounts, check again, check the rules, write totals and the transfer."""
    states = _lock_accounts(session, new)
    existing = _by_key(session, new)
    if existing is not None:
        return existing
    _check_unresolved(session, new)
    after = balances.apply(states, new.legs, new.state)
    balances.check_rules(after)
    _save_totals(session, after.values())
    transfer = _append(session, new, states)
    logger.debug("ledger: transfer %s (%s) at seq %d", new.id, new.idempotency_key, transfer.seq)
    return transfer


def _by_key(session: Session, new: Draft) -> Transfer | None:
    """The transfer posted under new's key, if its content is new's; IdempotencyConflict if not."""
    found = session.execute(_BY_KEY, {"key": new.idempotency_key}).first()
    if found is None:
        return None
    if found.content_hash != new.content_hash:
        raise IdempotencyConflict(
            f"idempotency key {new.idempotency_key!r} was used for transfer {found.id}"
            " with another content"
        )
    return session.get_one(Transfer, found.id)


def _check_unresolved(session: Session, new: Draft) -> None:
    """AlreadyResolved / AlreadyReversed when new's pending or original has its answer."""
    if new.pending_id is not None and session.scalar(
        select(Transfer.id).where(Transfer.pending_id == new.pending_id)
    ):
        raise AlreadyResolved(f"pending transfer {new.pending_id} was posted or voided already")
    if new.reverses_id is not None and session.scalar(
        select(Transfer.id).where(Transfer.reverses_id == new.reverses_id)
    ):
        raise AlreadyReversed(f"transfer {new.reverses_id} was reversed already")


def _lock_accounts(session: Session, new: Draft) -> dict[str, AccountState]:
    """The transfer's accounts, locked in id order; UnknownAccount, CurrencyMismatch."""
    codes = sorted({leg.account for leg in new.legs})
    rows = session.execute(_LOCK_ACCOUNTS, {"codes": codes}).all()
    states = {row.code: balances.account_state(row) for row in rows}
    missing = [code for code in codes if code not in states]
    if missing:
        raise UnknownAccount(f"no account {', '.join(missing)}")
    other = [s.code for s in states.values() if s.currency != new.currency]
    if other:
        raise CurrencyMismatch(f"transfer in {new.currency}, but {', '.join(other)} keep another")
    return states


def _save_totals(session: Session, states: Iterable[AccountState]) -> None:
    """Write the accounts' new totals (their rows are locked), in one statement."""
    states = list(states)
    ids = [s.id for s in states]
    if session.get_bind().dialect.name == "postgresql":
        dp, cp, dh, ch = (list(column) for column in zip(*(s.totals for s in states)))
        session.execute(_SAVE_TOTALS_PG, {"ids": ids, "dp": dp, "cp": cp, "dh": dh, "ch": ch})
    else:  # SQLite (one writer at a time, the demo): one CASE per column
        values = {
            column: case({s.id: s.totals[i] for s in states}, value=_ACCOUNT.c.id)
            for i, column in enumerate(balances.TOTALS)
        }
        session.execute(update(_ACCOUNT).where(_ACCOUNT.c.id.in_(ids)).values(**values))
    for account_id in ids:  # an Account the session holds is stale now
        held = session.identity_map.get(session.identity_key(Account, account_id))
        if held is not None:
            session.expire(held)


def _append(session: Session, new: Draft, states: Mapping[str, AccountState]) -> Transfer:
    """Insert the transfer and its entries at the head of the chain; move the head."""
    prev_seq, prev_hash = _lock_head(session)
    seq, created_at = prev_seq + 1, _not_before(session, prev_seq, utc_now())
    link = chain.chain_hash(seq, prev_hash, new.content_hash, chain.instant_us(created_at))
    transfer = Transfer(
        id=new.id, seq=seq, idempotency_key=new.idempotency_key, code=new.code,
        state=new.state, currency=new.currency, pending_id=new.pending_id,
        reverses_id=new.reverses_id, metadata_json=new.metadata_json,
        content_hash=new.content_hash, prev_hash=prev_hash, hash=link, created_at=created_at,
        entries=[_entry(i, leg, states) for i, leg in enumerate(new.legs)],
    )  # fmt: skip
    session.add(transfer)
    session.flush()
    session.execute(_MOVE_HEAD, {"b_seq": seq, "b_hash": link})
    for hook in APPEND_HOOKS:
        hook(session, transfer, states)
    return transfer


def register_append_hook(hook: AppendHook) -> None:
    """Call `hook` after every transfer appended from now on (once, however often registered)."""
    if hook not in APPEND_HOOKS:
        APPEND_HOOKS.append(hook)


def _not_before(session: Session, prev_seq: int, now: datetime) -> datetime:
    """`now`, or the previous transfer's created_at if the clock stepped back: created_at never
    decreases along the journal, so a time range of transfers is a seq range (queries.py)."""
    if prev_seq == 0:
        return now
    before = session.scalar(_CREATED_AT, {"seq": prev_seq})
    if before is None:
        return now
    before = as_utc(before)
    return before if before > now else now


def _entry(leg_index: int, leg: Leg, states: Mapping[str, AccountState]) -> Entry:
    """The row of one leg."""
    return Entry(
        leg=leg_index, account_id=states[leg.account].id, side=leg.side,
        amount_minor=leg.amount_minor,
    )  # fmt: skip


def _lock_head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the chain head, locked; the genesis head is made on the first posting."""
    row = session.execute(_LOCK_HEAD).first()
    if row is None:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        genesis = dialect.insert(_HEAD).values(id=1, seq=0, hash=chain.GENESIS_HASH)
        session.execute(genesis.on_conflict_do_nothing())
        row = session.execute(_LOCK_HEAD).one()
    return row.seq, row.hash


def stored_draft(session: Session, transfer_id: uuid.UUID | str) -> Draft:
    """A stored transfer as the Draft it was posted from; TransferNotFound if there is none."""
    try:
        key = transfer_id if isinstance(transfer_id, uuid.UUID) else uuid.UUID(str(transfer_id))
    except ValueError:
        raise TransferNotFound(f"{transfer_id!r} is no transfer id") from None
    transfer = session.get(Transfer, key)
    if transfer is None:
        raise TransferNotFound(f"no transfer {key}")
    ids = {entry.account_id for entry in transfer.entries}
    codes = dict(session.execute(select(Account.id, Account.code).where(Account.id.in_(ids))).all())
    legs = tuple(Leg(codes[e.account_id], e.side, e.amount_minor) for e in transfer.entries)
    return Draft(
        transfer.id, transfer.idempotency_key, transfer.code, transfer.state, transfer.currency,
        legs, transfer.metadata_json, transfer.pending_id, transfer.reverses_id,
        transfer.content_hash,
    )  # fmt: skip
