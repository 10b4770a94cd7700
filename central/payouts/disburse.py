"""Sending an approved withdrawal to the provider and following it to its end, never paying twice.

The order of writes is the whole guarantee:
1. `send` commits the withdrawal as `sending` (with the reference made when the money was held)
   before the request goes out, so a worker that dies after the request leaves a trace;
2. the provider takes the transfer (202) or already has it (409): `pending`, committed;
   a timeout or a 5xx says nothing about whether it took it: the withdrawal stays `sending`
   and is asked about by the same reference;
3. `check` asks for the reference's status: SUCCESSFUL posts the hold, FAILED voids it (once,
   under the row lock, through withdrawals.finish); PENDING asks again later (rules.CHECK_DELAYS_S);
   unknown to the provider (it never got the request) sends it again under the same reference.
A callback from the provider is never trusted: it only makes `check` ask sooner.
Transfer requests and status checks happen outside any transaction that holds a lock: two
workers that send or check the same withdrawal at once both reach the provider with one
reference, and the second answer finds the withdrawal final already. (The one account-holder
check before a first payout, of a number the provider could not check when it was registered,
runs under the withdrawal's lock.)
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central.extensions import utc_now
from central.payouts import rules, withdrawals
from central.payouts.models import (
    APPROVED,
    FINAL,
    IN_FLIGHT,
    MOMO,
    PENDING,
    SENDING,
    PayoutMethod,
    Withdrawal,
)
from central.payouts.provider import (
    PayoutOrder,
    Provider,
    ProviderError,
    ProviderRefused,
    ProviderTransfer,
    ProviderUnavailable,
)
from central.payouts.withdrawals import SYSTEM, get
from central.times import as_utc

logger = logging.getLogger(__name__)
SWEEP_MAX = 500
SWEEP_GRACE_S = 60  # a check this overdue lost its job (each check enqueues the next one)
ERROR_CHARS_MAX = 500


def order_of(withdrawal: Withdrawal, callback_url: str | None) -> PayoutOrder:
    """What the provider is asked for: the stored reference, never a new one."""
    if withdrawal.reference is None or withdrawal.method.msisdn is None:
        raise ValueError(f"withdrawal {withdrawal.id} has no reference or number")
    return PayoutOrder(
        reference=withdrawal.reference, amount_minor=withdrawal.amount_minor,
        currency=withdrawal.currency, msisdn=withdrawal.method.msisdn,
        external_id=str(withdrawal.id), payer_message=f"ZamIO royalties {withdrawal.id}",
        payee_note=f"ZamIO withdrawal {withdrawal.id}", callback_url=callback_url,
    )  # fmt: skip


def send(
    session: Session, provider: Provider, withdrawal_id: int, callback_url: str | None = None
) -> Withdrawal:
    """Send an approved (or `sending`) withdrawal; commits each step (module docstring)."""
    withdrawal = get(session, withdrawal_id, lock=True)
    if withdrawal.status == APPROVED:
        if withdrawal.method.kind != MOMO:
            session.commit()  # a bank payout waits for the manual export
            return withdrawal
        if withdrawal.method.checked_at is None and not _account_checked(session, provider,
                                                                        withdrawal):  # fmt: skip
            return get(session, withdrawal_id)
        withdrawal.provider = provider.name
        withdrawals.move(session, withdrawal, SYSTEM, SENDING, f"sending to {provider.name}")
    elif withdrawal.status != SENDING:
        session.commit()
        return withdrawal
    session.commit()  # step 1: `sending` is on record before the request goes out
    return _submit(session, provider, withdrawal_id, callback_url)


def _submit(
    session: Session, provider: Provider, withdrawal_id: int, callback_url: str | None
) -> Withdrawal:
    """Make the request, then record what it told (outside any lock while it runs)."""
    withdrawal = get(session, withdrawal_id, lock=True)
    if withdrawal.status not in IN_FLIGHT:
        session.commit()
        return withdrawal
    withdrawal.submit_attempts += 1
    order = order_of(withdrawal, callback_url)
    session.commit()
    try:
        provider.submit(order)
    except ProviderUnavailable as error:
        return _later(session, withdrawal_id, f"send: {error}")
    except ProviderRefused as error:
        return _refused(session, provider, withdrawal_id, error)
    withdrawal = get(session, withdrawal_id, lock=True)
    if withdrawal.status == SENDING:
        withdrawals.move(session, withdrawal, SYSTEM, PENDING, f"accepted by {provider.name}")
        withdrawal.last_error = None
        withdrawal.next_check_at = rules.next_check(utc_now(), 0)
    session.commit()
    return withdrawal


def _account_checked(session: Session, provider: Provider, withdrawal: Withdrawal) -> bool:
    """Check the method's account before its first payout; False (committed) when the account is
    inactive (the withdrawal fails, money back) or the provider cannot say now (ask later)."""
    try:
        active = provider.account_active(withdrawal.method.msisdn or "")
    except ProviderError as error:
        withdrawal.last_error = f"account check: {error}"[:ERROR_CHARS_MAX]
        withdrawal.next_check_at = rules.next_check(utc_now(), withdrawal.checks)
        withdrawal.checks += 1
        session.commit()
        return False
    if not active:
        withdrawals.fail(session, withdrawal, "ACCOUNT_INACTIVE")
        session.commit()
        return False
    withdrawal.method.checked_at = utc_now()
    return True


def _refused(
    session: Session, provider: Provider, withdrawal_id: int, error: ProviderRefused
) -> Withdrawal:
    """A 4xx on sending: the money goes back only if the provider holds no transfer under the
    reference (an earlier attempt may have been taken)."""
    withdrawal = get(session, withdrawal_id)
    try:
        answer = provider.status(withdrawal.reference)  # type: ignore[arg-type]
    except ProviderError as second:
        return _later(session, withdrawal_id, f"send refused ({error}); status: {second}")
    if answer is not None:
        return _settle(session, withdrawal_id, answer)
    withdrawal = get(session, withdrawal_id, lock=True)
    if withdrawal.status == SENDING:
        withdrawal.last_error = f"refused: {error}"[:ERROR_CHARS_MAX]
        withdrawals.fail(session, withdrawal, error.reason)
    session.commit()
    return withdrawal


def check(
    session: Session, provider: Provider, withdrawal_id: int, callback_url: str | None = None
) -> Withdrawal:
    """Ask the provider about a withdrawal in flight and act on the answer (module docstring)."""
    withdrawal = get(session, withdrawal_id)
    if withdrawal.status == APPROVED:
        session.commit()
        return send(session, provider, withdrawal_id, callback_url)
    if withdrawal.status not in IN_FLIGHT:
        session.commit()
        return withdrawal
    reference = withdrawal.reference
    session.commit()
    try:
        answer = provider.status(reference)  # type: ignore[arg-type]
    except ProviderError as error:
        return _later(session, withdrawal_id, f"status: {error}")
    if answer is None:  # the provider never got it: send it again, same reference
        return _submit(session, provider, withdrawal_id, callback_url)
    return _settle(session, withdrawal_id, answer)


def _settle(session: Session, withdrawal_id: int, answer: ProviderTransfer) -> Withdrawal:
    """Record the provider's answer on the locked withdrawal; final answers end it."""
    withdrawal = get(session, withdrawal_id, lock=True)
    if withdrawal.status in FINAL:
        session.commit()
        return withdrawal
    withdrawal.checks += 1
    now = utc_now()
    status = rules.outcome(answer)
    problem = rules.answer_problem(answer, withdrawal.amount_minor, withdrawal.currency)
    if problem:  # not what we asked for: a person must look (the reconciliation reports it)
        logger.error("payout %s: %s", withdrawal.id, problem)
        withdrawal.last_error = problem
        withdrawal.next_check_at = rules.next_check(now, len(rules.CHECK_DELAYS_S))
    elif status is not None:
        detail = f"{answer.state} at the provider" + (f": {answer.reason}" if answer.reason else "")
        withdrawals.finish(session, withdrawal, status, answer, detail)
    else:
        if withdrawal.status == SENDING:
            withdrawals.move(session, withdrawal, SYSTEM, PENDING, "pending at the provider")
        withdrawal.provider_state = answer.state
        withdrawal.last_error = None
        withdrawal.next_check_at = rules.next_check(now, withdrawal.checks)
    session.commit()
    return withdrawal


def _later(session: Session, withdrawal_id: int, error: str) -> Withdrawal:
    """No answer from the provider: note why and when to ask again."""
    logger.warning("payout %s: %s: asked again later", withdrawal_id, error)
    withdrawal = get(session, withdrawal_id, lock=True)
    if withdrawal.status not in FINAL:
        withdrawal.last_error = error[:ERROR_CHARS_MAX]
        withdrawal.next_check_at = rules.next_check(utc_now(), withdrawal.checks)
        withdrawal.checks += 1
    session.commit()
    return withdrawal


def due(session: Session, grace_s: float = 0, limit: int = SWEEP_MAX) -> list[int]:
    """Withdrawals whose next step is `grace_s` overdue: approved ones not sent since (their job
    may be lost), and those in flight whose check is due, or never set since `grace_s` ago (a
    worker died during its request; one still waiting for the provider's answer is left to it)."""
    before = utc_now() - timedelta(seconds=grace_s)
    momo = select(PayoutMethod.id).where(PayoutMethod.kind == MOMO)  # bank: a manual export
    waiting = (Withdrawal.status == APPROVED) & (Withdrawal.updated_at <= before)
    waiting &= Withdrawal.method_id.in_(momo)
    unset = Withdrawal.next_check_at.is_(None) & (Withdrawal.updated_at <= before)
    flying = Withdrawal.status.in_((SENDING, PENDING)) & or_(
        unset, Withdrawal.next_check_at <= before
    )
    query = select(Withdrawal.id).where(or_(waiting, flying)).order_by(Withdrawal.id).limit(limit)
    return list(session.scalars(query))


def settle_wait_s(withdrawal: Withdrawal) -> float:
    """Seconds until the withdrawal's next check is due (0: now)."""
    if withdrawal.next_check_at is None:
        return 0.0
    return max((as_utc(withdrawal.next_check_at) - utc_now()).total_seconds(), 0.0)
