"""Transfer requests made valid and canonical, before any I/O: legs, states, keys, ids, hashes.

A transfer is a set of legs (account, side, amount_minor) in one currency whose debits equal its
credits. Its `state` says how it moves balances (EFFECTS): `posted` at once, `pending` (a hold:
reserved, not yet moved), or the resolution of a pending transfer, which is a new transfer with
the same legs: `posted_from_pending` (the hold becomes posted) or `voided` (the hold is released).
A reversal is a new posted transfer with the legs of the original on the other side.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from central.ledger import chain
from central.ledger.errors import InvalidTransfer, UnbalancedTransfer
from central.ledger.money import AMOUNT_MINOR_MAX, DEFAULT_CURRENCY, check_currency

DEBIT, CREDIT = "debit", "credit"
SIDES = (DEBIT, CREDIT)
POSTED, PENDING = "posted", "pending"
POSTED_FROM_PENDING, VOIDED = "posted_from_pending", "voided"
STATES = (POSTED, PENDING, POSTED_FROM_PENDING, VOIDED)
# How a transfer in each state moves the totals of its accounts: (posted sign, pending sign).
EFFECTS = {POSTED: (1, 0), PENDING: (0, 1), POSTED_FROM_PENDING: (1, -1), VOIDED: (0, -1)}
MONEY_STATES = (POSTED, POSTED_FROM_PENDING)  # the states that moved posted money: reversible
REVERSAL_CODE = "reversal"
LEGS_MAX = 128  # one station debited, up to 127 rights holders credited, in one transfer
KEY_CHARS_MAX = 200
TRANSFER_CODE_CHARS_MAX = 32
METADATA_BYTES_MAX = 16_384
TRANSFER_CODE = re.compile(rf"[a-z][a-z0-9_]{{0,{TRANSFER_CODE_CHARS_MAX - 1}}}")
IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{KEY_CHARS_MAX}}}")  # printable ASCII, no space
# Transfer ids made from idempotency keys: uuid5(LEDGER_NAMESPACE, key), so a retry has its id.
LEDGER_NAMESPACE = uuid.UUID("5f0c3a52-8d7e-4b61-9a0e-2f6d1c4b7a93")


@dataclass(frozen=True)
class Leg:
    """One side of a transfer on one account."""

    account: str  # the account's code
    side: str  # DEBIT or CREDIT
    amount_minor: int


def debit(account: str, amount_minor: int) -> Leg:
    """A debit leg."""
    return Leg(account, DEBIT, amount_minor)


def credit(account: str, amount_minor: int) -> Leg:
    """A credit leg."""
    return Leg(account, CREDIT, amount_minor)


@dataclass(frozen=True)
class TransferRequest:
    """What a caller asks to post. The key comes from the cause (e.g. 'royalty:play:123')."""

    idempotency_key: str
    code: str  # what the money is for: royalty, topup, payout, fee, dispute, ...
    legs: tuple[Leg, ...]
    currency: str = DEFAULT_CURRENCY
    pending: bool = False  # a hold: post_pending or void_pending it later
    metadata: Mapping[str, Any] | None = None  # explanation, JSON; part of the content
    transfer_id: uuid.UUID | None = None  # default: made from the key


@dataclass(frozen=True)
class Draft:
    """A valid transfer, ready to post: canonical legs and metadata, and its content hash."""

    id: uuid.UUID
    idempotency_key: str
    code: str
    state: str
    currency: str
    legs: tuple[Leg, ...]
    metadata_json: str
    pending_id: uuid.UUID | None
    reverses_id: uuid.UUID | None
    content_hash: str


def transfer_id_for(idempotency_key: str) -> uuid.UUID:
    """The id of the transfer made for `idempotency_key` when the caller gives none."""
    return uuid.uuid5(LEDGER_NAMESPACE, idempotency_key)


def draft(request: TransferRequest) -> Draft:
    """Validate and canonicalize a request; InvalidTransfer or UnbalancedTransfer says why not."""
    return make_draft(
        request.transfer_id or transfer_id_for(request.idempotency_key),
        request.idempotency_key,
        request.code,
        PENDING if request.pending else POSTED,
        request.currency,
        normalize_legs(request.legs),
        request.metadata,
    )


def resolution_draft(
    pending: Draft, post: bool, idempotency_key: str, metadata: Mapping[str, Any] | None = None
) -> Draft:
    """The transfer that posts (post=True) or voids `pending`: its legs, code and currency."""
    state = POSTED_FROM_PENDING if post else VOIDED
    return make_draft(
        transfer_id_for(idempotency_key), idempotency_key, pending.code, state,
        pending.currency, pending.legs, metadata, pending_id=pending.id,
    )  # fmt: skip


def reversal_draft(
    original: Draft, idempotency_key: str, metadata: Mapping[str, Any] | None = None
) -> Draft:
    """The posted transfer that undoes `original`: the same legs on the other side."""
    return make_draft(
        transfer_id_for(idempotency_key), idempotency_key, REVERSAL_CODE, POSTED,
        original.currency, mirror(original.legs), metadata, reverses_id=original.id,
    )  # fmt: skip


def make_draft(
    transfer_id: uuid.UUID,
    idempotency_key: str,
    code: str,
    state: str,
    currency: str,
    legs: tuple[Leg, ...],
    metadata: Mapping[str, Any] | str | None,
    pending_id: uuid.UUID | None = None,
    reverses_id: uuid.UUID | None = None,
) -> Draft:
    """A Draft from its fields (legs already canonical; metadata a mapping or stored JSON)."""
    if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise InvalidTransfer(
            f"idempotency key {idempotency_key!r}: use 1-{KEY_CHARS_MAX} printable ASCII"
            " characters without spaces"
        )
    if not isinstance(code, str) or not TRANSFER_CODE.fullmatch(code):
        raise InvalidTransfer(f"transfer code {code!r}: use a-z, 0-9 and _, starting with a letter")
    check_currency(currency)
    metadata_json = metadata if isinstance(metadata, str) else metadata_text(metadata)
    content = chain.content_hash(
        str(transfer_id), idempotency_key, code, state, currency,
        str(pending_id) if pending_id else None, str(reverses_id) if reverses_id else None,
        [(leg.account, leg.side, leg.amount_minor) for leg in legs], metadata_json,
    )  # fmt: skip
    return Draft(
        transfer_id, idempotency_key, code, state, currency, legs, metadata_json,
        pending_id, reverses_id, content,
    )  # fmt: skip


def metadata_text(metadata: Mapping[str, Any] | None) -> str:
    """The canonical JSON of a transfer's metadata, at most METADATA_BYTES_MAX bytes."""
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidTransfer(f"metadata must be a JSON object, not {type(metadata).__name__}")
    try:
        text = chain.canonical_json(dict(metadata or {}))
    except (TypeError, ValueError) as error:
        raise InvalidTransfer(f"metadata is not JSON: {error}") from None
    if len(text.encode("utf-8")) > METADATA_BYTES_MAX:
        raise InvalidTransfer(f"metadata is over {METADATA_BYTES_MAX} bytes as JSON")
    return text


def normalize_legs(legs: Iterable[Leg]) -> tuple[Leg, ...]:
    """Legs checked, merged per (account, side), debits first then by account; balanced."""
    totals: dict[tuple[str, str], int] = {}
    for count, leg in enumerate(legs, start=1):
        if count > LEGS_MAX:
            raise InvalidTransfer(f"a transfer has at most {LEGS_MAX} legs")
        _check_leg(leg)
        totals[(leg.account, leg.side)] = totals.get((leg.account, leg.side), 0) + leg.amount_minor
    merged = [Leg(account, side, amount) for (account, side), amount in totals.items()]
    merged.sort(key=lambda leg: (SIDES.index(leg.side), leg.account))
    debits_minor = sum(leg.amount_minor for leg in merged if leg.side == DEBIT)
    credits_minor = sum(leg.amount_minor for leg in merged if leg.side == CREDIT)
    if not debits_minor or not credits_minor or debits_minor != credits_minor:
        raise UnbalancedTransfer(
            f"debits {debits_minor} != credits {credits_minor}: a transfer needs debits and"
            " credits of the same total"
        )
    if any(leg.amount_minor > AMOUNT_MINOR_MAX for leg in merged):
        raise InvalidTransfer(f"a leg's amount is at most {AMOUNT_MINOR_MAX} minor units")
    return tuple(merged)


def _check_leg(leg: Leg) -> None:
    """Raise InvalidTransfer for a leg with no account, a bad side or a bad amount."""
    if not isinstance(leg, Leg) or not isinstance(leg.account, str) or not leg.account:
        raise InvalidTransfer(f"leg {leg!r}: need Leg(account code, side, amount_minor)")
    if leg.side not in SIDES:
        raise InvalidTransfer(f"leg on {leg.account}: side {leg.side!r} is not debit or credit")
    amount = leg.amount_minor
    if isinstance(amount, bool) or not isinstance(amount, int) or not amount > 0:
        raise InvalidTransfer(f"leg on {leg.account}: amount_minor {amount!r} is not an int > 0")
    if amount > AMOUNT_MINOR_MAX:
        raise InvalidTransfer(f"leg on {leg.account}: amount over {AMOUNT_MINOR_MAX} minor units")


def mirror(legs: Iterable[Leg]) -> tuple[Leg, ...]:
    """The legs on the other side, in canonical order: what a reversal posts."""
    swapped = [
        Leg(leg.account, CREDIT if leg.side == DEBIT else DEBIT, leg.amount_minor) for leg in legs
    ]
    return tuple(sorted(swapped, key=lambda leg: (SIDES.index(leg.side), leg.account)))
