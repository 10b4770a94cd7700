"""What a payment provider does for payouts, whoever it is (MTN MoMo now; Vodafone Cash,
AirtelTigo or a bank file later): check a payee's account, take a transfer under a reference we
chose, and say what became of it. Pure types; the MoMo connector is momo.py.

The reference is the whole safety of a payout: it is made from the ledger transfer that holds
the money and stored with the withdrawal before any request, so a retry, a restart or a second
worker asks about the same transfer and can never start another one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

PENDING, SUCCESSFUL, FAILED = "PENDING", "SUCCESSFUL", "FAILED"
PROVIDER_STATES = (PENDING, SUCCESSFUL, FAILED)
# References of payouts: uuid5 of the hold transfer's id, so one hold has one reference.
REFERENCE_NAMESPACE = uuid.UUID("8b1f6e2c-4a37-4d0e-9c5b-71e2a9d3f604")


def payout_reference(hold_transfer_id: uuid.UUID) -> uuid.UUID:
    """The provider reference (X-Reference-Id) of the payout held by `hold_transfer_id`."""
    # MTN refuses an X-Reference-Id that is not a version-4 UUID (400): the name-based uuid5 of
    # the hold, with the version and variant bits of v4, is still one reference per hold.
    derived = uuid.uuid5(REFERENCE_NAMESPACE, str(hold_transfer_id))
    return uuid.UUID(bytes=derived.bytes, version=4)


@dataclass(frozen=True)
class PayoutOrder:
    """One transfer to ask a provider for: amount in minor units of currency, to an MSISDN."""

    reference: uuid.UUID
    amount_minor: int
    currency: str
    msisdn: str  # international, digits only: 233241234567
    external_id: str  # ours, shown in the provider's records: the withdrawal id
    payer_message: str
    payee_note: str
    callback_url: str | None = None  # where the provider may (or may not) call back


@dataclass(frozen=True)
class ProviderTransfer:
    """What the provider says about a reference now."""

    state: str  # PENDING | SUCCESSFUL | FAILED
    reason: str | None = None  # the provider's reason code when FAILED, e.g. PAYEE_NOT_FOUND
    provider_id: str | None = None  # the provider's own id (financialTransactionId) when known
    amount_minor: int | None = None
    currency: str | None = None


class ProviderError(Exception):
    """A provider call that did not give an answer."""


class ProviderUnavailable(ProviderError):
    """A timeout, a refused connection or a 5xx: the outcome is unknown; ask again by reference,
    never with a new one."""


class ProviderRefused(ProviderError):
    """A 4xx other than 409: this request will never be taken as it is (bad payee, currency,
    amount or credentials); `reason` is the provider's code."""

    def __init__(self, message: str, reason: str = "REFUSED") -> None:
        super().__init__(message)
        self.reason = reason


class Provider(Protocol):
    """A payout provider. Every method may raise ProviderUnavailable or ProviderRefused."""

    name: str  # e.g. mtn-momo: stored with each withdrawal it carried

    def account_active(self, msisdn: str) -> bool:
        """Whether `msisdn` holds an active account that can receive money."""
        ...

    def submit(self, order: PayoutOrder) -> None:
        """Ask for the transfer; returns once the provider took it (202) or already had it
        under this reference (409: submitted before, keep polling)."""
        ...

    def status(self, reference: uuid.UUID) -> ProviderTransfer | None:
        """What became of the transfer under `reference`; None if the provider never got it."""
        ...
