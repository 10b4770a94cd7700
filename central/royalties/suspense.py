"""Suspense: the money of shares nobody has claimed, kept per work (ISWC or ISRC) in
`suspense:composition` and `suspense:master`, and released to a claimant by one transfer.

Only the suspense of paid accruals (posted or released) can be claimed: a held one may still be
voided. A claim takes every unclaimed item of the work, locked, so two claims of one work at once
cannot both take an item. The claim's transfer key is `royalty:claim:<key>`: the same claim
again returns it; the key of another claim is an error. A claim does not change the track's
shares: set them (`zamio royalty shares set`) so that later plays pay the claimant directly.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.ledger import posting
from central.ledger.models import Transfer
from central.ledger.transfer import TransferRequest, credit, debit
from central.royalties import store
from central.royalties.accrual import SUSPENSE_ACCOUNTS, caller_key_problem
from central.royalties.errors import ClaimError
from central.royalties.models import PAID_STATES, RoyaltyAccrual, SuspenseItem
from central.royalties.rights import PARTY, RESERVED_PREFIXES, pool_of_code

CLAIM_CODE = "royalty_claim"


@dataclass(frozen=True)
class Claim:
    """A claim made: its transfer, the work, the claimant and what moved."""

    transfer_id: uuid.UUID
    pool: str
    work_code: str
    party: str
    amount_minor: int
    currency: str
    items: int


@dataclass(frozen=True)
class WorkInSuspense:
    """What a work has in suspense, claimable now and still held."""

    pool: str
    work_code: str | None
    claimable_minor: int
    held_minor: int


def claim_suspense(session: Session, work_code: str, party: str, key: str) -> Claim:
    """Move the work's claimable suspense to `party`'s earnings; the caller commits."""
    problem = caller_key_problem(key)
    if problem:
        raise ClaimError(problem)
    try:
        pool, code = pool_of_code(work_code)
    except ValueError as error:
        raise ClaimError(str(error)) from None
    if not PARTY.fullmatch(party) or party.startswith(RESERVED_PREFIXES):
        raise ClaimError(
            f"party {party!r}: the code of an earnings account, e.g. artist:ama:earnings"
        )
    transfer_key = f"royalty:claim:{key}"
    existing = session.scalar(select(Transfer).where(Transfer.idempotency_key == transfer_key))
    if existing is not None:
        return _claim_again(existing, code, party)
    items = _claimable(session, pool, code)
    if not items:
        raise ClaimError(f"nothing to claim in suspense for {code}")
    total_minor = sum(item.amount_minor for item, _ in items)
    currency = items[0][1]
    legs = (debit(SUSPENSE_ACCOUNTS[pool], total_minor), credit(party, total_minor))
    store.open_accounts(session, legs, currency)
    metadata = {"work_code": code, "pool": pool, "party": party, "items": len(items),
                "amount_minor": total_minor}  # fmt: skip
    transfer = posting.post_transfer(
        session, TransferRequest(transfer_key, CLAIM_CODE, legs, currency, metadata=metadata)
    )
    for item, _ in items:
        item.claim_transfer_id = transfer.id
    session.flush()
    return Claim(transfer.id, pool, code, party, total_minor, currency, len(items))


def _claimable(session: Session, pool: str, code: str) -> list[tuple[SuspenseItem, str]]:
    """The work's unclaimed items of paid accruals, with their currency, locked."""
    rows = session.execute(
        select(SuspenseItem, RoyaltyAccrual.currency)
        .join(RoyaltyAccrual, RoyaltyAccrual.id == SuspenseItem.accrual_id)
        .where(
            SuspenseItem.pool == pool,
            SuspenseItem.work_code == code,
            SuspenseItem.claim_transfer_id.is_(None),
            RoyaltyAccrual.state.in_(PAID_STATES),
        )
        .order_by(SuspenseItem.id)
        .with_for_update()
    ).all()
    return [(row[0], row[1]) for row in rows]


def _claim_again(existing: Transfer, code: str, party: str) -> Claim:
    """The claim made before under the same key; ClaimError if it was another claim."""
    done = json.loads(existing.metadata_json)
    if existing.code != CLAIM_CODE or (done.get("work_code"), done.get("party")) != (code, party):
        raise ClaimError(f"key of transfer {existing.id} was used for another claim or transfer")
    return Claim(
        existing.id, done["pool"], code, party, done["amount_minor"], existing.currency,
        done["items"],
    )  # fmt: skip


def works_in_suspense(session: Session) -> list[WorkInSuspense]:
    """Every work with unclaimed suspense, by pool and code."""
    paid = RoyaltyAccrual.state.in_(PAID_STATES)
    rows = session.execute(
        select(
            SuspenseItem.pool,
            SuspenseItem.work_code,
            func.sum(SuspenseItem.amount_minor).filter(paid),
            func.sum(SuspenseItem.amount_minor).filter(RoyaltyAccrual.state == "held"),
        )
        .join(RoyaltyAccrual, RoyaltyAccrual.id == SuspenseItem.accrual_id)
        .where(SuspenseItem.claim_transfer_id.is_(None))
        .group_by(SuspenseItem.pool, SuspenseItem.work_code)
        .order_by(SuspenseItem.pool, SuspenseItem.work_code)
    ).all()
    return [
        WorkInSuspense(pool, code, int(claimable or 0), int(held or 0))
        for pool, code, claimable, held in rows
        if claimable or held
    ]
