"""Errors of station funding: one class per way a top-up or an invoice is refused."""

from __future__ import annotations


class FundingError(Exception):
    """Base of every funding error: the request was refused and nothing was written."""


class TopUpInvalid(FundingError):
    """A top-up that cannot be recorded: unknown station, bad amount, method, reference, date,
    or an invoice of another station."""


class TopUpConflict(FundingError):
    """The method and reference were recorded before as another top-up (amount, station or
    invoice differ): the same reference is one payment, never two."""


class InvoiceError(FundingError):
    """An invoice that cannot be issued or found: unknown station, a prepaid or unopened
    wallet, a month that is not over, a bad month."""
