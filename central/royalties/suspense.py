"""Suspense: the money of shares nobody has claimed, kept per work (ISWC or ISRC) in
`suspense:composition` and `suspense:master`, and per track when the track has no code; it leaves
by a claim or when shares are set.

Only the suspense of paid accruals (posted or released) moves: a held one may still be voided.
A claim takes every unclaimed item of the work (claim_suspense) or of the track
(claim_track_suspense), locked, so two claims at once cannot both take an item. The claim's
transfer key is `royalty:claim:<key>`: the same claim again returns it; the key of another claim
is an error. A claim does not change the track's shares.

Setting a track's shares (set_shares) releases that pool's past suspense of the track to the new
owners: each item holding the whole pool of its play (no shares on file then, or no owner among
them) is split over the new shares (split_minor); the owned parts move in one transfer
`suspense:release:<track id>:<pool>:<shares version>:<first item id>` (the version is a digest
of the new shares, the item names the money: each item is released once); the unowned parts stay
in suspense as new items under the new work code, claimable by it. A part kept for an unclaimed
share of shares on file is not re-split (its co-owners were paid their parts at the time). So
running it again finds nothing left.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import xxhash
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from central.catalog.models import Track
from central.ledger import posting
from central.ledger.models import Transfer
from central.ledger.money import split_minor
from central.ledger.transfer import Leg, TransferRequest, credit, debit
from central.plays.models import Play
from central.royalties import store
from central.royalties.accrual import SUSPENSE_ACCOUNTS, caller_key_problem
from central.royalties.errors import ClaimError
from central.royalties.models import PAID_STATES, RoyaltyAccrual, SuspenseItem
from central.royalties.rights import PARTY, POOLS, RESERVED_PREFIXES, PoolShares, pool_of_code

CLAIM_CODE = "royalty_claim"
RELEASE_CODE = "suspense_release"


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
    track: str | None = None  # the track's external id, for money with no work code


@dataclass(frozen=True)
class Release:
    """Past suspense of a track's pool moved to the owners of newly set shares."""

    transfer_id: uuid.UUID | None  # None: the shares have no owner yet, nothing moved
    pool: str
    work_code: str
    amount_minor: int  # moved to owners
    kept_minor: int  # still in suspense (unclaimed shares), now under work_code
    items: int


def claim_suspense(session: Session, work_code: str, party: str, key: str) -> Claim:
    """Move the work's claimable suspense to `party`'s earnings; the caller commits."""
    _check_claimant(party, key)
    try:
        pool, code = pool_of_code(work_code)
    except ValueError as error:
        raise ClaimError(f"{error}; a track with no code is claimed with --track") from None
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


def _check_claimant(party: str, key: str) -> None:
    """ClaimError unless `key` is a caller key and `party` an earnings account code."""
    problem = caller_key_problem(key)
    if problem:
        raise ClaimError(problem)
    if not PARTY.fullmatch(party) or party.startswith(RESERVED_PREFIXES):
        raise ClaimError(
            f"party {party!r}: the code of an earnings account, e.g. artist:ama:earnings"
        )


def claim_track_suspense(
    session: Session, track_external_id: str, party: str, key: str, pool: str | None = None
) -> Claim:
    """Move a track's claimable suspense (of `pool`, or of both) to `party`; the caller commits.
    For money kept with no work code (a track without ISRC or shares), or any of one track."""
    _check_claimant(party, key)
    if pool is not None and pool not in POOLS:
        raise ClaimError(f"pool {pool!r}: composition or master")
    track = session.scalar(select(Track).where(Track.external_id == track_external_id))
    if track is None:
        raise ClaimError(f"no track {track_external_id!r} (see `zamio catalog list`)")
    transfer_key = f"royalty:claim:{key}"
    existing = session.scalar(select(Transfer).where(Transfer.idempotency_key == transfer_key))
    if existing is not None:
        return _claim_again(existing, None, party, track.external_id)
    items = track_items(session, track.id, pool)
    if not items:
        raise ClaimError(f"nothing to claim in suspense for track {track.external_id}")
    by_pool = Counter[str]()
    for item, _ in items:
        by_pool[item.pool] += item.amount_minor
    total_minor, currency = sum(by_pool.values()), items[0][1]
    legs = (*(debit(SUSPENSE_ACCOUNTS[p], n) for p, n in sorted(by_pool.items())),
            credit(party, total_minor))  # fmt: skip
    store.open_accounts(session, legs, currency)
    label = pool or "+".join(sorted(by_pool))
    metadata = {"track": track.external_id, "work_code": None, "pool": label, "party": party,
                "items": len(items), "amount_minor": total_minor}  # fmt: skip
    transfer = posting.post_transfer(
        session, TransferRequest(transfer_key, CLAIM_CODE, legs, currency, metadata=metadata)
    )
    for item, _ in items:
        item.claim_transfer_id = transfer.id
    session.flush()
    return Claim(transfer.id, label, "", party, total_minor, currency, len(items))


def track_items(
    session: Session, track_id: int, pool: str | None = None
) -> list[tuple[SuspenseItem, str]]:
    """The track's unclaimed items of paid accruals (of `pool`), with their currency, locked."""
    query = (
        select(SuspenseItem, RoyaltyAccrual.currency)
        .join(RoyaltyAccrual, RoyaltyAccrual.id == SuspenseItem.accrual_id)
        .join(Play, Play.id == RoyaltyAccrual.play_id)
        .where(
            Play.track_id == track_id,
            SuspenseItem.claim_transfer_id.is_(None),
            RoyaltyAccrual.state.in_(PAID_STATES),
        )
        .order_by(SuspenseItem.id)
        .with_for_update(of=SuspenseItem)
    )
    if pool is not None:
        query = query.where(SuspenseItem.pool == pool)
    return [(row[0], row[1]) for row in session.execute(query).all()]


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


def _claim_again(
    existing: Transfer, code: str | None, party: str, track: str | None = None
) -> Claim:
    """The claim made before under the same key; ClaimError if it was another claim."""
    done = json.loads(existing.metadata_json)
    asked = (code, party, track)
    if (
        existing.code != CLAIM_CODE
        or (done.get("work_code"), done.get("party"), done.get("track")) != asked
    ):
        raise ClaimError(f"key of transfer {existing.id} was used for another claim or transfer")
    return Claim(
        existing.id, done["pool"], code or "", party, done["amount_minor"], existing.currency,
        done["items"],
    )  # fmt: skip


def works_in_suspense(session: Session) -> list[WorkInSuspense]:
    """Every work with unclaimed suspense, by pool and code; money with no code, by track."""
    paid = RoyaltyAccrual.state.in_(PAID_STATES)
    # a track only where there is no code: coded money is claimed by its work, not its track
    no_code_track = case((SuspenseItem.work_code.is_(None), Track.external_id), else_=None)
    rows = session.execute(
        select(
            SuspenseItem.pool,
            SuspenseItem.work_code,
            no_code_track,
            func.sum(SuspenseItem.amount_minor).filter(paid),
            func.sum(SuspenseItem.amount_minor).filter(RoyaltyAccrual.state == "held"),
        )
        .join(RoyaltyAccrual, RoyaltyAccrual.id == SuspenseItem.accrual_id)
        .join(Play, Play.id == RoyaltyAccrual.play_id)
        .join(Track, Track.id == Play.track_id)
        .where(SuspenseItem.claim_transfer_id.is_(None))
        .group_by(SuspenseItem.pool, SuspenseItem.work_code, no_code_track)
        .order_by(SuspenseItem.pool, SuspenseItem.work_code, no_code_track)
    ).all()
    return [
        WorkInSuspense(pool, code, int(claimable or 0), int(held or 0), track_id)
        for pool, code, track_id, claimable, held in rows
        if claimable or held
    ]


def set_shares(session: Session, track_id: int, pools: Sequence[PoolShares]) -> list[Release]:
    """Store each pool's shares for the track (store.set_track_shares) and release that pool's
    past suspense of the track to them (module docstring); the caller commits."""
    releases = []
    for shares in pools:
        store.set_track_shares(session, track_id, shares)
        release = release_suspense(session, track_id, shares)
        if release is not None:
            releases.append(release)
    return releases


def release_suspense(session: Session, track_id: int, shares: PoolShares) -> Release | None:
    """Move the track's paid, unclaimed suspense of `shares.pool` to its owners; None if there
    is none. Unowned parts become new items under `shares.work_code`."""
    items = _whole_pool_items(session, track_id, shares.pool)
    if not items:
        return None
    weights = [line.share_bp for line in shares.lines]
    owed: Counter[str] = Counter()
    kept: list[SuspenseItem] = []
    for item, _ in items:
        for line, part in zip(shares.lines, split_minor(item.amount_minor, weights)):
            if line.party is not None:
                owed[line.party] += part
            elif part:
                kept.append(
                    SuspenseItem(accrual_id=item.accrual_id, pool=item.pool,
                                 work_code=shares.work_code, amount_minor=part)
                )  # fmt: skip
    moved_minor = sum(owed.values())
    kept_minor = sum(k.amount_minor for k in kept)
    if moved_minor == 0:  # nobody owns a share yet: the money waits under the new code
        for item, _ in items:
            item.work_code = shares.work_code
        session.flush()
        return Release(None, shares.pool, shares.work_code, 0, kept_minor, len(items))
    transfer = _post_release(session, track_id, shares, items, owed)
    for item, _ in items:
        item.claim_transfer_id = transfer.id
    session.add_all(kept)
    session.flush()
    return Release(transfer.id, shares.pool, shares.work_code, moved_minor, kept_minor, len(items))


def _whole_pool_items(session: Session, track_id: int, pool: str) -> list[tuple[SuspenseItem, str]]:
    """The track's claimable items of `pool` that hold the whole pool of their play (no shares
    were on file, or none had an owner): the money a new owner's shares apply to in full. An
    unclaimed share of shares on file is a part, left for a claim of its work."""
    items = track_items(session, track_id, pool)
    accruals = {
        a.id: a
        for a in session.scalars(
            select(RoyaltyAccrual).where(RoyaltyAccrual.id.in_({i.accrual_id for i, _ in items}))
        )
    }
    return [
        (item, currency)
        for item, currency in items
        if _pool_minor(accruals[item.accrual_id], pool) == item.amount_minor
    ]


def _pool_minor(accrual: RoyaltyAccrual, pool: str) -> int | None:
    """What the pool of the accrual's play came to, from its explanation."""
    split = json.loads(accrual.explanation_json).get("split", {})
    return split.get(pool, {}).get("amount_minor")


def shares_version(shares: PoolShares) -> str:
    """A digest of a pool's shares (work code, parties, roles, basis points): 16 hex digits."""
    lines = [[line.party, line.role, line.share_bp] for line in shares.lines]
    canonical = json.dumps([shares.pool, shares.work_code, lines], separators=(",", ":"))
    return xxhash.xxh64_hexdigest(canonical.encode())


def _post_release(
    session: Session, track_id: int, shares: PoolShares,
    items: list[tuple[SuspenseItem, str]], owed: Counter[str],
) -> Transfer:  # fmt: skip
    """The one transfer moving the owned parts of `items` out of the pool's suspense."""
    moved_minor, currency = sum(owed.values()), items[0][1]
    legs: tuple[Leg, ...] = (
        debit(SUSPENSE_ACCOUNTS[shares.pool], moved_minor),
        *(credit(party, n) for party, n in sorted(owed.items()) if n),
    )
    version = shares_version(shares)
    key = f"suspense:release:{track_id}:{shares.pool}:{version}:{items[0][0].id}"
    metadata = {
        "track_id": track_id, "pool": shares.pool, "work_code": shares.work_code,
        "shares_version": version, "items": len(items), "amount_minor": moved_minor,
    }  # fmt: skip
    store.open_accounts(session, legs, currency)
    return posting.post_transfer(
        session, TransferRequest(key, RELEASE_CODE, legs, currency, metadata=metadata)
    )
