"""Blanket pools: a station's monthly licence fee shared out over the month's plays that fall
under a blanket line, pro rata by weighted seconds (tariff.blanket_weight, share_blanket), and
each play's part split and posted like a per-second amount.

One call does a (station, local month) once, in the caller's transaction: the station row is
locked, the month's closed plays read, every play's part posted as its own royalty transfer
(key `royalty:play:<id>`, so a play is never paid twice) and its accrual written, and the
distribution recorded (unique on station and month). The same call again returns the record;
another pool or key for a month already shared out is an error. The month must be over and
none of its plays still open: a play closed after the distribution would get no part.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.catalog.models import Track
from central.extensions import utc_now
from central.ledger.errors import BalanceRuleViolation
from central.ledger.money import format_minor
from central.plays.models import Play
from central.royalties import store
from central.royalties.accrual import blanket_price, caller_key_problem, month_range_ms
from central.royalties.errors import BlanketError
from central.royalties.jobs import (
    find_accrual,
    play_about,
    play_facts,
    post_plan,
    priced_plan,
    write_accrual,
)
from central.royalties.models import BLANKET_WAIT, POSTED, BlanketDistribution, RateCardRow
from central.royalties.tariff import (
    PlayFacts,
    RateCard,
    blanket_weight,
    card_in_force,
    share_blanket,
)
from central.stations.models import Station


@dataclass(frozen=True)
class Weighed:
    """A play of the month under a blanket line, with its card and weight."""

    play: Play
    facts: PlayFacts
    card: RateCard
    weight: int


def distribute_blanket(
    session: Session, station_code: str, month: str, pool_minor: int, key: str,
    tariff_code: str, batch_id: str, now_ms: int,
) -> BlanketDistribution:  # fmt: skip
    """Share `pool_minor` over the station's blanket plays of `month` (module docstring)."""
    problem = caller_key_problem(key)
    if problem or pool_minor <= 0:
        raise BlanketError(problem or f"pool {pool_minor}: a positive amount of minor units")
    station, first_ms, end_ms = _station_month(session, station_code, month)
    done = session.scalar(
        select(BlanketDistribution).where(
            BlanketDistribution.station_id == station.id, BlanketDistribution.month == month
        )
    )
    if done is not None:
        return _again(done, pool_minor, key)
    _check_month_over(session, station, month, first_ms, end_ms, now_ms)
    rows = {row.id: row for row in store.tariff_versions(session, tariff_code)}
    weighed = _weigh(session, station, rows, tariff_code, first_ms, end_ms)
    if not weighed:
        raise BlanketError(f"{station_code} has no closed plays under a blanket line in {month}")
    if len({w.card.currency for w in weighed}) > 1:
        raise BlanketError(f"{month}: the month's plays are under cards of several currencies")
    total = sum(w.weight for w in weighed)
    parts = share_blanket(pool_minor, {w.play.id: w.weight for w in weighed})
    for w in weighed:
        pool = (pool_minor, total, month)
        _post_part(session, station, w, rows[w.card.card_id], parts[w.play.id], pool, batch_id)
    record = BlanketDistribution(
        station_id=station.id, month=month, pool_minor=pool_minor,
        currency=weighed[0].card.currency, idempotency_key=key, batch_id=batch_id,
        plays=len(weighed), created_at=utc_now(),
    )  # fmt: skip
    session.add(record)
    session.flush()
    return record


def _station_month(session: Session, station_code: str, month: str) -> tuple[Station, int, int]:
    """The station, locked (one distribution at a time), and its local month in UTC ms."""
    station = session.scalar(select(Station).where(Station.code == station_code).with_for_update())
    if station is None:
        raise BlanketError(f"no station {station_code} (see `zamio station list`)")
    try:
        first_ms, end_ms = month_range_ms(month, station.timezone)
    except ValueError as error:
        raise BlanketError(str(error)) from None
    return station, first_ms, end_ms


def _again(done: BlanketDistribution, pool_minor: int, key: str) -> BlanketDistribution:
    """The distribution made before; BlanketError if asked with another pool or key."""
    if (done.pool_minor, done.idempotency_key) != (pool_minor, key):
        raise BlanketError(
            f"{done.month} was shared out already: {format_minor(done.pool_minor, done.currency)}"
            f" under key {done.idempotency_key}"
        )
    return done


def _check_month_over(
    session: Session, station: Station, month: str, first_ms: int, end_ms: int, now_ms: int
) -> None:
    """BlanketError unless the month has ended and none of its plays is still open."""
    if now_ms < end_ms:
        raise BlanketError(f"{month} is not over yet at {station.code} ({station.timezone})")
    still_open = session.scalar(
        select(func.count()).where(
            Play.station_id == station.id, Play.start_ms >= first_ms, Play.start_ms < end_ms,
            Play.closed_at.is_(None),
        )
    )  # fmt: skip
    if still_open:
        raise BlanketError(f"{month}: {still_open} plays at {station.code} are still open")


def _weigh(
    session: Session, station: Station, rows: dict[int, RateCardRow], tariff_code: str,
    first_ms: int, end_ms: int,
) -> list[Weighed]:  # fmt: skip
    """The month's closed plays with blanket weight and no amount yet, by id."""
    cards = [store.card_of(row) for row in rows.values()]
    plays = session.scalars(
        select(Play)
        .where(Play.station_id == station.id, Play.start_ms >= first_ms, Play.start_ms < end_ms,
               Play.closed_at.is_not(None))
        .order_by(Play.id)
        .with_for_update()
    ).all()  # fmt: skip
    weighed = []
    for play in plays:
        accrual = find_accrual(session, play.id)
        card = card_in_force(cards, tariff_code, play.start_ms)
        if card is None or (accrual is not None and accrual.state != BLANKET_WAIT):
            continue
        facts = play_facts(play, station)
        weight = blanket_weight(card, facts)
        if weight > 0:
            weighed.append(Weighed(play, facts, card, weight))
    return weighed


def _post_part(
    session: Session, station: Station, w: Weighed, row: RateCardRow, part_minor: int,
    pool: tuple[int, int, str], batch_id: str,
) -> None:  # fmt: skip
    """Post one play's part of the pool as its royalty transfer, and write its accrual."""
    pool_minor, total, month = pool
    track = session.get_one(Track, w.play.track_id)
    price = blanket_price(w.card, w.facts, part_minor, pool_minor, w.weight, total, month)
    about = {"play": play_about(w.play, station, track, w.facts)}
    plan = priced_plan(session, w.play, station, track, row, price, about)
    transfer = None
    if plan.split is not None and plan.split.legs:
        try:
            transfer = post_plan(session, w.play.id, plan)
        except BalanceRuleViolation as error:
            raise BlanketError(f"{station.code} cannot pay the pool: {error}") from None
    accrual = find_accrual(session, w.play.id)
    write_accrual(session, w.play, accrual, plan, POSTED, transfer, batch_id)
