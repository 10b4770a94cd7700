"""Errors of the ledger: one class per way a posting or a query is refused."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every ledger error: the request was refused and nothing was written."""


class InvalidTransfer(LedgerError):
    """A transfer request that is malformed: bad key, code, currency, legs, amounts or metadata."""


class UnbalancedTransfer(InvalidTransfer):
    """The debits of a transfer do not add up to its credits."""


class CurrencyMismatch(LedgerError):
    """An account of a transfer keeps another currency than the transfer's."""


class UnknownAccount(LedgerError):
    """A transfer or query names an account that does not exist."""


class AccountConflict(LedgerError):
    """An account code that exists already with another kind, currency or balance rule."""


class InvalidAccount(LedgerError):
    """An account that cannot be opened: bad code, kind, currency or limit."""


class BalanceRuleViolation(LedgerError):
    """The transfer would take an account below its floor (its credit limit, or zero)."""


class IdempotencyConflict(LedgerError):
    """The idempotency key was used before for a transfer with a different content."""


class TransferNotFound(LedgerError):
    """No transfer has this id (for post_pending, void_pending, reverse)."""


class NotPending(LedgerError):
    """post_pending or void_pending of a transfer that is not pending."""


class AlreadyResolved(LedgerError):
    """The pending transfer was posted or voided before, by a transfer with another key."""


class NotReversible(LedgerError):
    """A reversal of a transfer that moved no posted money (pending or voided)."""


class AlreadyReversed(LedgerError):
    """The transfer was reversed before, by a transfer with another key."""


class LedgerInconsistent(LedgerError):
    """The stored balances contradict the journal: run `zamio ledger verify`."""


class QueryRangeError(LedgerError):
    """A statement asked for an impossible range (since after until)."""
