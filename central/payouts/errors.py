"""Errors of payouts: one class per way a payout method or a withdrawal step is refused."""

from __future__ import annotations


class PayoutError(Exception):
    """Base of every payout error: nothing was written."""


class MethodError(PayoutError):
    """A payout method that cannot be added: a bad number, an inactive account, no party."""


class WithdrawalRefused(PayoutError):
    """A withdrawal that cannot be asked for: under the minimum, over the available balance,
    no usable payout method."""


class StepRefused(PayoutError):
    """A step the withdrawal's state or the actor does not allow (approving one's own, twice,
    rejecting a paid one, ...)."""


class UnknownWithdrawal(PayoutError):
    """No withdrawal with that id."""
