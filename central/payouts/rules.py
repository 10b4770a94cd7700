"""The rules of a withdrawal, before any I/O (pure): how many approvals it needs, whether an
amount may be asked for, which steps each state allows, and what a provider's answer makes of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from central.payouts.models import (
    APPROVED,
    CANCELLED,
    FAILED,
    PAID,
    PENDING,
    REJECTED,
    REQUESTED,
    SENDING,
)
from central.payouts.provider import FAILED as PROVIDER_FAILED
from central.payouts.provider import SUCCESSFUL, ProviderTransfer

# The steps each state allows (the four ends allow none).
STEPS: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({APPROVED, REJECTED, CANCELLED}),
    APPROVED: frozenset({SENDING, REJECTED, FAILED}),  # failed: its account is inactive
    SENDING: frozenset({PENDING, PAID, FAILED}),
    PENDING: frozenset({PAID, FAILED}),
}
# Waits between status checks of a transfer in flight: quick at first (most settle in seconds),
# then every 10 minutes, for as long as the provider keeps it pending.
CHECK_DELAYS_S = (2, 5, 15, 30, 60, 120, 300, 600)
STUCK_AFTER = timedelta(hours=6)  # pending this long: the reconciliation reports it


def approvals_needed(amount_minor: int, four_eyes_minor: int) -> int:
    """1, or 2 (two distinct admins) from `four_eyes_minor` up."""
    return 2 if amount_minor >= four_eyes_minor else 1


def amount_problem(amount_minor: object, minimum_minor: int, available_minor: int) -> str | None:
    """Why `amount_minor` cannot be withdrawn from an account with `available_minor`, or None."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        return f"amount_minor {amount_minor!r}: a whole number of minor units above 0"
    if amount_minor < minimum_minor:
        return f"the smallest withdrawal is {minimum_minor} minor units"
    if amount_minor > available_minor:
        return f"the available balance is {available_minor} minor units"
    return None


def step_problem(status: str, to_status: str) -> str | None:
    """Why a withdrawal in `status` cannot go to `to_status`, or None."""
    if to_status in STEPS.get(status, frozenset()):
        return None
    return f"a withdrawal that is {status} cannot become {to_status}"


def outcome(answer: ProviderTransfer | None) -> str | None:
    """The final status a provider's answer decides (PAID or FAILED), or None (still pending,
    or unknown to the provider: ask it again by the same reference)."""
    if answer is None:
        return None
    if answer.state == SUCCESSFUL:
        return PAID
    if answer.state == PROVIDER_FAILED:
        return FAILED
    return None


def answer_problem(answer: ProviderTransfer, amount_minor: int, currency: str) -> str | None:
    """Why the provider's record of our reference is not the transfer we asked for, or None."""
    if answer.amount_minor is not None and answer.amount_minor != amount_minor:
        return f"the provider holds {answer.amount_minor} minor units, not {amount_minor}"
    if answer.currency is not None and answer.currency != currency:
        return f"the provider holds {answer.currency}, not {currency}"
    return None


def next_check(now: datetime, checks: int) -> datetime:
    """When to ask the provider again after `checks` status requests."""
    return now + timedelta(seconds=CHECK_DELAYS_S[min(checks, len(CHECK_DELAYS_S) - 1)])


def method_usable_from(now: datetime, replaces_one: bool, cooling_off_hours: int) -> datetime:
    """A party's first method is usable at once; one that replaces another after cooling off."""
    return now + timedelta(hours=cooling_off_hours) if replaces_one else now
