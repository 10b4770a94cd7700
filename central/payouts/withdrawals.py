"""Withdrawals, step by step, each in the caller's transaction (the caller commits):

- `request`: at most the available balance, at least the minimum, to the party's usable payout
  method; the money is held at once by a pending ledger transfer (`payout:withdrawal:<id>:hold`,
  from the party's earnings to the settlement account of the method), and the provider reference
  is made from that transfer and stored before anything is sent;
- `approve`: by an admin who is not the requester; from ZAMIO_PAYOUTS_FOUR_EYES_MINOR up, by two
  distinct admins (an admin counts once);
- `reject` (an admin) and `cancel` (the requester's side, before approval) void the hold;
- `finish`: the provider's final answer posts the hold (paid) or voids it (failed), once.

Every step locks the withdrawal row, checks its state (rules.py), writes a history event and an
audit event, and tells the people concerned (central/notifications). The ledger's own floor on
the earnings account is the last word on the balance: two requests racing for the same money
cannot both hold it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.auth import audit
from central.auth.policy import Principal
from central.extensions import utc_now
from central.ledger import posting
from central.ledger.accounts import account_spec, find_account, open_account
from central.ledger.errors import BalanceRuleViolation
from central.ledger.queries import account_balance
from central.ledger.transfer import TransferRequest, credit, debit
from central.payouts import rules
from central.payouts.errors import StepRefused, UnknownWithdrawal, WithdrawalRefused
from central.payouts.models import (
    APPROVED,
    CANCELLED,
    FAILED,
    FINAL,
    PAID,
    REJECTED,
    REQUESTED,
    PayoutMethod,
    Withdrawal,
    WithdrawalApproval,
    WithdrawalEvent,
)
from central.payouts.provider import ProviderTransfer, payout_reference

PAYOUT_CODE = "payout"
REASON_CHARS_MAX = 500
LIST_LIMIT_MAX = 200


@dataclass(frozen=True)
class Actor:
    """Who takes a step: the audit log's actor, through what, and their user id (None: the
    bootstrap token or the system, which may not approve)."""

    name: str  # user:3 | cli:ops@... | bootstrap | system
    via: str  # api | cli | console | job
    user_id: int | None = None


SYSTEM = Actor("system", "job")


def actor_of(principal: Principal, via: str) -> Actor:
    """The payout actor of an API or console caller."""
    return Actor(principal.actor, via, principal.user_id)


def settlement_account(method: PayoutMethod) -> str:
    """The settlement account a method's payouts leave by: settlement:momo:mtn, settlement:bank."""
    return f"settlement:momo:{method.network}" if method.kind == "momo" else "settlement:bank"


def hold_key(withdrawal_id: int) -> str:
    """The idempotency key of the pending transfer holding a withdrawal's money."""
    return f"payout:withdrawal:{withdrawal_id}:hold"


def get(session: Session, withdrawal_id: int, lock: bool = False) -> Withdrawal:
    """The withdrawal, optionally locked for this transaction; UnknownWithdrawal if none."""
    query = select(Withdrawal).where(Withdrawal.id == withdrawal_id)
    if lock:
        query = query.with_for_update(of=Withdrawal)
    found = session.scalar(query.execution_options(populate_existing=True))
    if found is None:
        raise UnknownWithdrawal(f"no withdrawal {withdrawal_id}")
    return found


def active_method(session: Session, party: str) -> PayoutMethod | None:
    """The party's active payout method, or None."""
    query = select(PayoutMethod).where(PayoutMethod.party == party, PayoutMethod.active)
    return session.scalar(query.order_by(PayoutMethod.id.desc()).limit(1))


def available_minor(session: Session, party: str) -> int:
    """What the party could withdraw now: its earnings not already held (0 without an account)."""
    account = find_account(session, party)
    return 0 if account is None else account_balance(account).available_minor


def request(
    session: Session,
    actor: Actor,
    party: str,
    amount_minor: int,
    minimum_minor: int,
    four_eyes_minor: int,
    key: str | None = None,
) -> Withdrawal:
    """Ask for `amount_minor` of `party`'s earnings and hold it (module docstring). The same
    `key` again is the same withdrawal; with another party or amount, StepRefused."""
    if key is not None:
        found = session.scalar(select(Withdrawal).where(Withdrawal.request_key == key))
        if found is not None:
            if (found.party, found.amount_minor) != (party, amount_minor):
                raise StepRefused(f"key {key!r} was used for another withdrawal")
            return found
    method = active_method(session, party)
    if method is None:
        raise WithdrawalRefused(f"{party} has no payout method: add one first")
    now = utc_now()
    if _aware(method.usable_from) > now:
        raise WithdrawalRefused(
            f"the payout method of {party} changed recently: withdrawals open at"
            f" {_aware(method.usable_from).isoformat(timespec='minutes')}"
        )
    account = find_account(session, party)
    problem = rules.amount_problem(amount_minor, minimum_minor, available_minor(session, party))
    if problem or account is None:
        raise WithdrawalRefused(problem or f"{party} has no earnings yet")
    withdrawal = Withdrawal(
        party=party, method_id=method.id, amount_minor=amount_minor, currency=account.currency,
        status=REQUESTED, approvals_needed=rules.approvals_needed(amount_minor, four_eyes_minor),
        requested_by=actor.name, requester_user_id=actor.user_id, request_key=key,
        submit_attempts=0, checks=0, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(withdrawal)
    session.flush()
    hold = _hold(session, withdrawal, method)
    withdrawal.hold_transfer_id = hold.id
    withdrawal.reference = payout_reference(hold.id)
    _event(session, withdrawal, actor, None, REQUESTED, f"{amount_minor} minor units held")
    _audit(session, actor, withdrawal, "payout.request", {"amount_minor": [None, amount_minor]})
    _tell_admins(session, withdrawal, "payout.requested")
    return withdrawal


def _hold(session: Session, withdrawal: Withdrawal, method: PayoutMethod) -> Any:
    """The pending transfer that holds the withdrawal's money; WithdrawalRefused when the
    ledger's floor refuses it (the balance moved since it was read)."""
    settlement = settlement_account(method)
    open_account(session, account_spec(settlement, "settlement", withdrawal.currency))
    legs = (debit(withdrawal.party, withdrawal.amount_minor),)
    legs += (credit(settlement, withdrawal.amount_minor),)
    metadata = {"withdrawal": withdrawal.id, "method": method.id, "party": withdrawal.party}
    try:
        return posting.post_transfer(
            session,
            TransferRequest(
                hold_key(withdrawal.id), PAYOUT_CODE, legs, withdrawal.currency, pending=True,
                metadata=metadata,
            ),
        )  # fmt: skip
    except BalanceRuleViolation:
        raise WithdrawalRefused(
            f"the available balance is {available_minor(session, withdrawal.party)} minor units"
        ) from None


def approve(session: Session, actor: Actor, withdrawal_id: int) -> Withdrawal:
    """One admin's approval; the withdrawal is approved once it has as many as it needs."""
    withdrawal = get(session, withdrawal_id, lock=True)
    _check_step(withdrawal, APPROVED)
    if actor.user_id is None:
        raise StepRefused("an approval needs a named admin (a user), not the bootstrap token")
    if actor.user_id == withdrawal.requester_user_id:
        raise StepRefused("the requester of a withdrawal cannot approve it")
    if any(a.user_id == actor.user_id for a in withdrawal.approvals):
        raise StepRefused("you approved this withdrawal already: the next approval must come from"
                          " another admin")  # fmt: skip
    session.add(WithdrawalApproval(
        withdrawal_id=withdrawal.id, user_id=actor.user_id, actor=actor.name, at=utc_now(),
    ))  # fmt: skip
    session.flush()
    count = _approvals(session, withdrawal.id)
    _audit(session, actor, withdrawal, "payout.approve", {"approvals": [count - 1, count]})
    if count < withdrawal.approvals_needed:
        _event(
            session, withdrawal, actor, REQUESTED, REQUESTED,
            f"approval {count} of {withdrawal.approvals_needed}",
        )  # fmt: skip
        return withdrawal
    move(session, withdrawal, actor, APPROVED, f"approved by {count} admin(s)")
    _tell_party(session, withdrawal, "payout.approved")
    return withdrawal


def _approvals(session: Session, withdrawal_id: int) -> int:
    """How many distinct admins approved the withdrawal."""
    query = select(func.count()).where(WithdrawalApproval.withdrawal_id == withdrawal_id)
    return int(session.scalar(query) or 0)


def reject(session: Session, actor: Actor, withdrawal_id: int, reason: str) -> Withdrawal:
    """An admin refuses the withdrawal before it is sent; its money is given back."""
    withdrawal = get(session, withdrawal_id, lock=True)
    _check_step(withdrawal, REJECTED)
    reason = _reason(reason)
    _void(session, withdrawal, reason)
    move(session, withdrawal, actor, REJECTED, reason)
    _audit(session, actor, withdrawal, "payout.reject", {"reason": [None, reason]})
    _tell_party(session, withdrawal, "payout.rejected")
    return withdrawal


def cancel(session: Session, actor: Actor, withdrawal_id: int) -> Withdrawal:
    """The party takes back a withdrawal no admin approved yet; its money is given back."""
    withdrawal = get(session, withdrawal_id, lock=True)
    _check_step(withdrawal, CANCELLED)
    _void(session, withdrawal, "cancelled by the party")
    move(session, withdrawal, actor, CANCELLED, "cancelled")
    _audit(session, actor, withdrawal, "payout.cancel", {})
    return withdrawal


def finish(
    session: Session, withdrawal: Withdrawal, status: str, answer: ProviderTransfer | None,
    detail: str,
) -> Withdrawal:  # fmt: skip
    """The provider's final answer on a locked withdrawal in flight: paid posts the hold,
    failed voids it. A withdrawal already final is left as it is (a callback or a second worker
    came first)."""
    if withdrawal.status in FINAL:
        return withdrawal
    _check_step(withdrawal, status)
    if answer is not None:
        withdrawal.provider_state = answer.state
        withdrawal.provider_reason = answer.reason
        withdrawal.provider_id = answer.provider_id
    if status == PAID:
        posting.post_pending(
            session, withdrawal.hold_transfer_id, f"payout:withdrawal:{withdrawal.id}:paid",
            {"withdrawal": withdrawal.id, "provider_id": withdrawal.provider_id},
        )  # fmt: skip
    else:
        _void(session, withdrawal, detail)
    move(session, withdrawal, SYSTEM, status, detail)
    _audit(session, SYSTEM, withdrawal, f"payout.{status}", {"status": [None, status]})
    _tell_party(session, withdrawal, "payout.paid" if status == PAID else "payout.failed")
    return withdrawal


def fail(session: Session, withdrawal: Withdrawal, reason: str) -> Withdrawal:
    """A withdrawal the provider will never carry (refused, inactive account): money back."""
    withdrawal.provider_reason = reason[:120]
    return finish(session, withdrawal, FAILED, None, reason)


def _void(session: Session, withdrawal: Withdrawal, reason: str) -> None:
    """Give the held money back (the hold's void transfer, once)."""
    posting.void_pending(
        session, withdrawal.hold_transfer_id, f"payout:withdrawal:{withdrawal.id}:void",
        {"withdrawal": withdrawal.id, "reason": reason[:REASON_CHARS_MAX]},
    )  # fmt: skip


def _check_step(withdrawal: Withdrawal, to_status: str) -> None:
    """StepRefused unless the withdrawal's state allows the step."""
    problem = rules.step_problem(withdrawal.status, to_status)
    if problem:
        raise StepRefused(f"withdrawal {withdrawal.id}: {problem}")


def move(
    session: Session, withdrawal: Withdrawal, actor: Actor, to_status: str, detail: str
) -> None:
    """Set the withdrawal's status, with its history event."""
    before = withdrawal.status
    now = utc_now()
    withdrawal.status = to_status
    withdrawal.updated_at = now
    if to_status in FINAL:
        withdrawal.finished_at = now
        withdrawal.next_check_at = None
    _event(session, withdrawal, actor, before, to_status, detail)


def _event(
    session: Session, withdrawal: Withdrawal, actor: Actor, before: str | None, after: str,
    detail: str,
) -> None:  # fmt: skip
    """Append one step to the withdrawal's history."""
    session.add(WithdrawalEvent(
        withdrawal_id=withdrawal.id, at=utc_now(), actor=actor.name, from_status=before,
        to_status=after, detail=detail[:REASON_CHARS_MAX],
    ))  # fmt: skip


def _audit(
    session: Session, actor: Actor, withdrawal: Withdrawal, action: str, changes: dict
) -> None:
    """The audit log's entry of a step (the system's steps are logged as via the API)."""
    via = actor.via if actor.via in audit.VIAS else "api"
    audit.record(session, actor.name, via, action, "withdrawal", withdrawal.id, changes)


def _reason(reason: str) -> str:
    """A reason given by an admin, trimmed; StepRefused when empty or too long."""
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_CHARS_MAX:
        raise StepRefused(f"give a reason of 1-{REASON_CHARS_MAX} characters")
    return reason


def _aware(instant: Any) -> Any:
    """A stored instant as UTC-aware (SQLite gives it back naive)."""
    from central.times import as_utc

    return as_utc(instant)


def _tell_party(session: Session, withdrawal: Withdrawal, event: str) -> None:
    """Tell the party's users what became of their withdrawal."""
    from central.notifications import notify
    from central.notifications.recipients import party_users

    amount = _money(withdrawal.amount_minor, withdrawal.currency)
    words = {
        "payout.approved": "was approved and is on its way",
        "payout.paid": "was paid",
        "payout.failed": f"failed ({withdrawal.provider_reason or 'no reason given'}); the"
        " money is back in your balance",
        "payout.rejected": "was rejected; the money is back in your balance",
    }[event]
    notify(
        session, event, party_users(session, withdrawal.party),
        f"Withdrawal {withdrawal.id} of {amount} {words.split(';')[0]}",
        f"Your withdrawal {withdrawal.id} of {amount} {words}.",
        data=record(withdrawal), dedupe_key=f"withdrawal:{withdrawal.id}",
        link=f"/payouts/{withdrawal.id}",
    )  # fmt: skip


def _tell_admins(session: Session, withdrawal: Withdrawal, event: str) -> None:
    """Tell the admins a withdrawal waits for their approval."""
    from central.notifications import notify
    from central.notifications.recipients import admins

    amount = _money(withdrawal.amount_minor, withdrawal.currency)
    notify(
        session, event, admins(session),
        f"Withdrawal {withdrawal.id} of {amount} waits for approval",
        f"{withdrawal.party} asked for {amount}; it needs {withdrawal.approvals_needed}"
        " approval(s).",
        data=record(withdrawal), dedupe_key=f"withdrawal:{withdrawal.id}",
        link=f"/payouts/{withdrawal.id}",
    )  # fmt: skip


def _money(amount_minor: int, currency: str) -> str:
    """1234 GHS -> 'GHS 12.34'."""
    return f"{currency} {amount_minor // 100:,}.{amount_minor % 100:02d}"


def listing(
    session: Session,
    parties: Iterable[str] | None,
    status: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[Withdrawal]:
    """Withdrawals, newest first: of `parties` (None: every party), of one status, a page."""
    query = select(Withdrawal).order_by(Withdrawal.id.desc())
    if parties is not None:
        query = query.where(Withdrawal.party.in_(sorted(parties)))
    if status is not None:
        query = query.where(Withdrawal.status == status)
    if after_id is not None:
        query = query.where(Withdrawal.id < after_id)
    return list(session.scalars(query.limit(min(limit, LIST_LIMIT_MAX))))


def history(session: Session, withdrawal_id: int) -> list[WithdrawalEvent]:
    """The withdrawal's steps, oldest first."""
    query = select(WithdrawalEvent).where(WithdrawalEvent.withdrawal_id == withdrawal_id)
    return list(session.scalars(query.order_by(WithdrawalEvent.id)))


def record(withdrawal: Withdrawal) -> dict[str, Any]:
    """A withdrawal as JSON-ready data (the API, the CLI's --json, notifications)."""

    def instant(value: Any) -> str | None:
        return None if value is None else _aware(value).isoformat()

    method = withdrawal.method
    return {
        "id": withdrawal.id,
        "party": withdrawal.party,
        "status": withdrawal.status,
        "amount_minor": withdrawal.amount_minor,
        "currency": withdrawal.currency,
        "approvals_needed": withdrawal.approvals_needed,
        "approvals": [a.actor for a in withdrawal.approvals],
        "requested_by": withdrawal.requested_by,
        "method": None if method is None else method_record(method),
        "reference": None if withdrawal.reference is None else str(withdrawal.reference),
        "hold_transfer_id": None
        if withdrawal.hold_transfer_id is None
        else str(withdrawal.hold_transfer_id),
        "provider": withdrawal.provider,
        "provider_state": withdrawal.provider_state,
        "provider_reason": withdrawal.provider_reason,
        "provider_id": withdrawal.provider_id,
        "submit_attempts": withdrawal.submit_attempts,
        "last_error": withdrawal.last_error,
        "created_at": instant(withdrawal.created_at),
        "updated_at": instant(withdrawal.updated_at),
        "finished_at": instant(withdrawal.finished_at),
    }


def method_record(method: PayoutMethod) -> dict[str, Any]:
    """A payout method as JSON-ready data, its number partly masked."""
    number = method.msisdn or method.account_number or ""
    return {
        "id": method.id,
        "party": method.party,
        "kind": method.kind,
        "network": method.network,
        "number": mask(number),
        "account_name": method.account_name,
        "checked": method.checked_at is not None,
        "usable_from": _aware(method.usable_from).isoformat(),
        "active": method.active,
    }


def mask(number: str) -> str:
    """All but the last 4 digits hidden: 233241234567 -> ********4567."""
    return "*" * max(len(number) - 4, 0) + number[-4:]


def event_record(event: WithdrawalEvent) -> dict[str, Any]:
    """One history step as JSON-ready data."""
    return {
        "at": _aware(event.at).isoformat(),
        "actor": event.actor,
        "from": event.from_status,
        "to": event.to_status,
        "detail": event.detail,
    }


def dumps(withdrawal: Withdrawal, events: Iterable[WithdrawalEvent]) -> str:
    """The CLI's `show --json`: the withdrawal and its history."""
    data = record(withdrawal) | {"history": [event_record(e) for e in events]}
    return json.dumps(data, indent=2, sort_keys=True)
