"""RQ jobs: accrue_royalty(play_id), enqueued by update_plays for each play it closes, and
accrue_pending(limit), the scheduled sweep of closed plays with no accrual (a lost job, a crash)
and of unfunded accruals. `accrue_play` is the work for one play, in the caller's transaction:

1. lock the play row, so two runs for one play take turns and the second finds the accrual;
2. an accrual that exists is the answer (unless unfunded: it is tried again);
3. price the play by the tariff version in force at its start, for the station's class and the
   band of its local time (tariff.py), and split the amount (accrual.py);
4. open the accounts the transfer needs, post ONE transfer under key `royalty:play:<id>`
   (pending, for a hold), and add the accrual and its suspense items: the caller commits them
   together, so a crash leaves either all of it or nothing.
A station wallet whose floor the amount would break (an operator gave it one) leaves the
accrual `unfunded`, with no transfer; accrue_pending tries it again until the wallet has funds.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.catalog.models import Track
from central.extensions import db, utc_now
from central.ledger import posting
from central.ledger.errors import BalanceRuleViolation, LedgerError
from central.ledger.models import Transfer
from central.ledger.retry import run_in_transaction
from central.ledger.transfer import TransferRequest
from central.plays.models import Play
from central.royalties import store
from central.royalties.accrual import (
    Split,
    local_minute,
    split_amount,
    station_account,
    transfer_metadata,
)
from central.royalties.errors import AccrualError, HoldError, RoyaltyError
from central.royalties.models import (
    BLANKET_WAIT,
    HELD,
    POSTED,
    UNFUNDED,
    UNPRICED,
    RateCardRow,
    RoyaltyAccrual,
    SuspenseItem,
)
from central.royalties.tariff import (
    PlayFacts,
    Price,
    band_of,
    blanket_weight,
    card_in_force,
    price_play,
)
from central.stations.models import Station
from central.times import iso_utc
from central.worker import worker_app

logger = logging.getLogger(__name__)

ACCRUE_PENDING_LIMIT = 1000  # plays per accrue_pending run; the next run takes the rest
ROYALTY_CODE = "royalty"


@dataclass(frozen=True)
class Plan:
    """What an accrual will be, before it is posted (split None: no money moves)."""

    state: str  # POSTED, BLANKET_WAIT or UNPRICED
    card_id: int | None
    amount_minor: int
    currency: str
    explanation: dict
    split: Split | None = None
    metadata: dict | None = None


@dataclass(frozen=True)
class Hold:
    """Why and under which caller key a play is held."""

    reason: str
    key: str


@dataclass(frozen=True)
class BatchRun:
    """One run of accrue_pending: its batch id, the plays it took, their states after it."""

    batch_id: str
    play_ids: tuple[int, ...]
    states: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the RQ job's result)."""
        return {"batch_id": self.batch_id, "plays": len(self.play_ids), "states": self.states}


def new_batch_id() -> str:
    """A fresh batch id (one per run, recorded on each accrual the run writes)."""
    return uuid.uuid4().hex


def play_key(play_id: int) -> str:
    """The idempotency key of a play's royalty transfer; its holds' keys start with it + ':'."""
    return f"royalty:play:{play_id}"


def accrue_royalty(play_id: int) -> str:
    """RQ job: accrue one closed play (a second run changes nothing); the accrual's state."""
    app = worker_app()
    with app.app_context():
        code = app.config["ZAMIO"].royalty_tariff_code
        batch_id = new_batch_id()
        return run_in_transaction(
            db.session, lambda s: accrue_play(s, play_id, code, batch_id).state
        )


def accrue_pending(limit: int = ACCRUE_PENDING_LIMIT) -> dict[str, Any]:
    """RQ job (scheduled): accrue up to `limit` closed plays that have no accrual yet."""
    app = worker_app()
    with app.app_context():
        run = accrue_batch(db.session, limit, app.config["ZAMIO"].royalty_tariff_code)
    logger.info("royalties: batch %s: %s", run.batch_id, run.states)
    return run.as_dict()


def accrue_batch(
    session: Session, limit: int, tariff_code: str, batch_id: str | None = None
) -> BatchRun:
    """Accrue the plays plays_to_accrue finds, one transaction each, under one batch id."""
    batch_id = batch_id or new_batch_id()
    play_ids = plays_to_accrue(session, limit)
    session.commit()  # end the read: each play gets its own transaction
    states: Counter[str] = Counter()
    for play_id in play_ids:
        try:
            states[
                run_in_transaction(
                    session, lambda s, p=play_id: accrue_play(s, p, tariff_code, batch_id).state
                )
            ] += 1
        except (RoyaltyError, LedgerError) as error:
            logger.warning("play %s: not accrued: %s", play_id, error)
            states["failed"] += 1
    return BatchRun(batch_id, tuple(play_ids), dict(states))


def plays_to_accrue(session: Session, limit: int) -> list[int]:
    """Closed plays with no accrual, oldest first; then unfunded ones, while `limit` allows."""
    fresh = session.scalars(
        select(Play.id)
        .outerjoin(RoyaltyAccrual, RoyaltyAccrual.play_id == Play.id)
        .where(Play.closed_at.is_not(None), RoyaltyAccrual.id.is_(None))
        .order_by(Play.id)
        .limit(limit)
    ).all()
    retry: list[int] = []
    if len(fresh) < limit:
        retry = list(
            session.scalars(
                select(RoyaltyAccrual.play_id)
                .where(RoyaltyAccrual.state == UNFUNDED)
                .order_by(RoyaltyAccrual.play_id)
                .limit(limit - len(fresh))
            )
        )
    return list(fresh) + retry


def accrue_play(
    session: Session, play_id: int, tariff_code: str, batch_id: str, hold: Hold | None = None
) -> RoyaltyAccrual:
    """The play's accrual, made if new (steps in the module docstring); the caller commits."""
    play = session.scalar(select(Play).where(Play.id == play_id).with_for_update())
    if play is None:
        raise AccrualError(f"no play {play_id}")
    if play.closed_at is None:
        raise AccrualError(f"play {play_id} is still open: it is accrued once closed")
    accrual = find_accrual(session, play_id)
    if accrual is not None and accrual.state != UNFUNDED:
        return accrual
    return record(session, play, accrual, plan_play(session, play, tariff_code), batch_id, hold)


def find_accrual(session: Session, play_id: int) -> RoyaltyAccrual | None:
    """The play's accrual, or None."""
    return session.scalar(select(RoyaltyAccrual).where(RoyaltyAccrual.play_id == play_id))


def plan_play(session: Session, play: Play, tariff_code: str) -> Plan:
    """Price the play by the version of `tariff_code` in force at its start, and split it."""
    station = session.get_one(Station, play.station_id)
    track = session.get_one(Track, play.track_id)
    facts = play_facts(play, station)
    rows = {row.id: row for row in store.tariff_versions(session, tariff_code)}
    card = card_in_force([store.card_of(r) for r in rows.values()], tariff_code, play.start_ms)
    about = {"play": play_about(play, station, track, facts)}
    if card is None:
        reason = f"no version of rate card {tariff_code} in force at {iso_utc(play.start_ms)}"
        return Plan(UNPRICED, None, 0, rows_currency(rows), {**about, "reason": reason})
    price = price_play(card, facts)
    if price is None:
        waits = blanket_weight(card, facts) > 0
        reason = (
            "blanket: priced when the station's month is shared out (zamio royalty blanket)"
            if waits
            else f"no line for class {facts.station_class}, band"
            f" {band_of(card, facts.local_minute)}"
        )
        explanation = {**about, "rate_card": f"{card.code} v{card.version}", "reason": reason}
        return Plan(
            BLANKET_WAIT if waits else UNPRICED, card.card_id, 0, card.currency, explanation
        )
    return priced_plan(session, play, station, track, rows[card.card_id], price, about)


def rows_currency(rows: dict[int, RateCardRow]) -> str:
    """The currency of a tariff's versions (its latest's)."""
    return max(rows.values(), key=lambda r: r.version).currency


def play_facts(play: Play, station: Station) -> PlayFacts:
    """What pricing needs of a play at a station."""
    minute = local_minute(play.start_ms, station.timezone)
    return PlayFacts(play.id, station.station_class, play.start_ms, play.duration_ms, minute)


def play_about(play: Play, station: Station, track: Track, facts: PlayFacts) -> dict:
    """The play part of an explanation."""
    return {
        "id": play.id,
        "station": station.code,
        "track": track.external_id,
        "title": track.title,
        "start": iso_utc(play.start_ms),
        "end": iso_utc(play.end_ms),
        "timezone": station.timezone,
        "local_minute": facts.local_minute,
    }


def priced_plan(
    session: Session, play: Play, station: Station, track: Track, row: RateCardRow,
    price: Price, about: dict,
) -> Plan:  # fmt: skip
    """The plan of a priced play: its split by the card's fee and pools and the track's shares."""
    split = split_amount(
        price.amount_minor, row.platform_fee_bp, row.composition_share_bp,
        store.track_shares(session, track.id), store.fallback_codes(track),
        station_account(station.code),
    )  # fmt: skip
    explanation = {
        **price.explanation, **about, "amount_minor": price.amount_minor,
        "currency": price.currency, "split": split.explanation,
    }  # fmt: skip
    metadata = transfer_metadata(
        play.id, station.code, track.external_id, explanation, split.suspense
    )
    return Plan(
        POSTED, price.card_id, price.amount_minor, price.currency, explanation, split, metadata
    )


def record(
    session: Session, play: Play, accrual: RoyaltyAccrual | None, plan: Plan, batch_id: str,
    hold: Hold | None,
) -> RoyaltyAccrual:  # fmt: skip
    """Post the plan's transfer (if it moves money) and write the accrual and its suspense."""
    transfer, state = None, plan.state
    if plan.split is not None and plan.split.legs:
        transfer = try_post(session, play.id, plan, pending=hold is not None)
        state = UNFUNDED if transfer is None else HELD if hold else POSTED
    elif hold is not None:
        raise HoldError(f"play {play.id}: nothing to hold ({plan.state}, amount 0)")
    accrual = write_accrual(session, play, accrual, plan, state, transfer, batch_id)
    if hold is not None:
        accrual.hold_reason, accrual.action_key = hold.reason, hold.key
    return accrual


def write_accrual(
    session: Session, play: Play, accrual: RoyaltyAccrual | None, plan: Plan, state: str,
    transfer: Transfer | None, batch_id: str,
) -> RoyaltyAccrual:  # fmt: skip
    """The play's accrual row as the plan says, and its suspense items if money moved."""
    if accrual is None:
        accrual = RoyaltyAccrual(play_id=play.id, created_at=utc_now())
        session.add(accrual)
    accrual.rate_card_id, accrual.amount_minor = plan.card_id, plan.amount_minor
    accrual.currency, accrual.state, accrual.batch_id = plan.currency, state, batch_id
    accrual.explanation_json = json.dumps(plan.explanation, sort_keys=True)
    accrual.transfer_id = transfer.id if transfer is not None else None
    accrual.updated_at = utc_now()
    session.flush()
    if transfer is not None and plan.split is not None:
        add_suspense(session, accrual, plan.split)
    return accrual


def add_suspense(session: Session, accrual: RoyaltyAccrual, split: Split) -> None:
    """The accrual's suspense items, one per pool with money kept for its work."""
    session.add_all(
        SuspenseItem(accrual_id=accrual.id, pool=s.pool, work_code=s.work_code,
                     amount_minor=s.amount_minor)
        for s in split.suspense
    )  # fmt: skip
    session.flush()


def post_plan(session: Session, play_id: int, plan: Plan, pending: bool = False) -> Transfer:
    """Open the plan's accounts and post its one transfer under the play's key."""
    assert plan.split is not None and plan.split.legs
    store.open_accounts(session, plan.split.legs, plan.currency)
    request = TransferRequest(
        play_key(play_id), ROYALTY_CODE, plan.split.legs, plan.currency, pending, plan.metadata
    )
    return posting.post_transfer(session, request)


def try_post(session: Session, play_id: int, plan: Plan, pending: bool) -> Transfer | None:
    """post_plan, or None when the station's wallet floor refuses it (the accrual is unfunded)."""
    try:
        return post_plan(session, play_id, plan, pending)
    except BalanceRuleViolation as error:
        logger.warning("play %s: royalty unfunded: %s", play_id, error)
        return None
