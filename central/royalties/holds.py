"""Holds on a play's royalty, for disputes: money reserved by a pending transfer, then posted
(release) or given back (void). Every step is a new transfer; each is idempotent on its key.

- hold a play not accrued yet: it is accrued as a pending transfer (key `royalty:play:<id>`);
- hold a posted (or released) accrual: its transfer is reversed (`...:hold:<key>:reversal`)
  and the same legs are held by a pending transfer (`royalty:play:<id>:hold:<key>`);
- release: the pending transfer is posted (`...:release:<key>`); void: it is voided
  (`...:void:<key>`). A released accrual may be held again; a voided one is final.
The same call with the same key again changes nothing; another key on a finished step is an
error. The dispute workflow that decides (later issues) calls these.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.extensions import utc_now
from central.ledger import posting
from central.ledger.errors import BalanceRuleViolation
from central.ledger.transfer import TransferRequest
from central.plays.models import Play
from central.royalties.accrual import caller_key_problem
from central.royalties.errors import HoldError
from central.royalties.jobs import ROYALTY_CODE, Hold, accrue_play, play_key
from central.royalties.models import (
    HELD,
    PAID_STATES,
    RELEASED,
    UNFUNDED,
    VOIDED,
    RoyaltyAccrual,
    SuspenseItem,
)

REASON_CHARS_MAX = 2000


def check_key(key: str) -> None:
    """HoldError unless `key` is a good caller key."""
    problem = caller_key_problem(key)
    if problem:
        raise HoldError(problem)


def hold_play(
    session: Session, play_id: int, reason: str, key: str, tariff_code: str, batch_id: str
) -> RoyaltyAccrual:
    """Hold the play's royalty (see the module docstring); the caller commits."""
    check_key(key)
    if not reason.strip() or len(reason) > REASON_CHARS_MAX:
        raise HoldError(f"a hold needs a reason of 1-{REASON_CHARS_MAX} characters")
    accrual = _locked(session, play_id)
    if accrual is None or accrual.state == UNFUNDED:
        accrual = accrue_play(session, play_id, tariff_code, batch_id, Hold(reason, key))
        if accrual.state != HELD:
            raise HoldError(f"play {play_id}: could not be held: its accrual is {accrual.state}")
        return accrual
    if accrual.state == HELD and accrual.action_key == key:
        return accrual
    if accrual.state not in PAID_STATES or accrual.transfer_id is None:
        raise HoldError(f"play {play_id}: its accrual is {accrual.state}: nothing to hold")
    _refuse_claimed(session, accrual)
    prefix = f"{play_key(play_id)}:hold:{key}"
    note = {"play_id": play_id, "reason": reason}
    try:
        posting.reverse(session, accrual.transfer_id, f"{prefix}:reversal", note)
        original = posting.stored_draft(session, accrual.transfer_id)
        pending = posting.post_transfer(
            session,
            TransferRequest(prefix, ROYALTY_CODE, original.legs, original.currency, True,
                            {**note, "holds": str(original.id)}),
        )  # fmt: skip
    except BalanceRuleViolation as error:
        raise HoldError(f"play {play_id}: cannot take the money back: {error}") from None
    return _moved(accrual, HELD, pending.id, key, reason)


def release_hold(session: Session, play_id: int, key: str) -> RoyaltyAccrual:
    """Post the money a held play's pending transfer reserves; the caller commits."""
    return _resolve(session, play_id, key, post=True)


def void_hold(session: Session, play_id: int, key: str) -> RoyaltyAccrual:
    """Give back the money a held play's pending transfer reserves; the caller commits."""
    return _resolve(session, play_id, key, post=False)


def _resolve(session: Session, play_id: int, key: str, post: bool) -> RoyaltyAccrual:
    """release_hold (post=True) or void_hold."""
    check_key(key)
    state, verb = (RELEASED, "release") if post else (VOIDED, "void")
    accrual = _locked(session, play_id)
    if accrual is None:
        raise HoldError(f"play {play_id} has no accrual: nothing to {verb}")
    if accrual.state == state and accrual.action_key == key:
        return accrual
    if accrual.state != HELD or accrual.transfer_id is None:
        raise HoldError(f"play {play_id}: its accrual is {accrual.state}, not held")
    resolve = posting.post_pending if post else posting.void_pending
    transfer = resolve(session, accrual.transfer_id, f"{play_key(play_id)}:{verb}:{key}")
    return _moved(accrual, state, transfer.id, key, accrual.hold_reason)


def _locked(session: Session, play_id: int) -> RoyaltyAccrual | None:
    """The play's accrual, locked for this transaction after the play (the order accrue_play
    locks them in: play, accrual, ledger accounts)."""
    session.execute(select(Play.id).where(Play.id == play_id).with_for_update())
    return session.scalar(
        select(RoyaltyAccrual).where(RoyaltyAccrual.play_id == play_id).with_for_update()
    )


def _refuse_claimed(session: Session, accrual: RoyaltyAccrual) -> None:
    """HoldError if some of the accrual's suspense was claimed: the reversal would take it from
    suspense, where it no longer is (the dispute workflow must recover it from the claimant)."""
    claimed = session.scalar(
        select(func.count()).where(
            SuspenseItem.accrual_id == accrual.id, SuspenseItem.claim_transfer_id.is_not(None)
        )
    )
    if claimed:
        raise HoldError(f"play {accrual.play_id}: its suspense share was claimed already")


def _moved(
    accrual: RoyaltyAccrual, state: str, transfer_id: object, key: str, reason: str | None
) -> RoyaltyAccrual:
    """The accrual in its new state, carried by `transfer_id`."""
    accrual.state, accrual.transfer_id, accrual.action_key = state, transfer_id, key
    accrual.hold_reason, accrual.updated_at = reason, utc_now()
    return accrual
