"""Royalty rows: rate card versions, a track's rights shares, a station's tariff settings, and
the accounts a royalty transfer needs, opened on demand. Callers commit."""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.catalog.models import Track
from central.errors import StationError
from central.extensions import utc_now
from central.ledger.accounts import account_spec, find_account, open_account
from central.ledger.models import Account
from central.ledger.transfer import Leg
from central.royalties import cards
from central.royalties.accrual import PLATFORM_FEES, SUSPENSE_ACCOUNTS, check_timezone
from central.royalties.errors import RateCardError, SharesError
from central.royalties.models import RateCardRow, RightsShare
from central.royalties.rights import ROLES, PoolShares, RightsLine, party_kind
from central.royalties.splits import check_shares, normalize_isrc, normalize_iswc
from central.royalties.tariff import RateCard
from central.stations.models import Station
from central.stations.store import find_station
from central.times import iso_utc

STATION_WALLET = "station_wallet"


def add_rate_card(session: Session, spec: cards.CardSpec) -> RateCardRow:
    """Store `spec` as the next version of its code (a version it names must be that one)."""
    latest = session.scalar(
        select(func.max(RateCardRow.version)).where(RateCardRow.code == spec.code)
    )
    version = (latest or 0) + 1
    if spec.version is not None and spec.version != version:
        raise RateCardError(
            f"rate card {spec.code} v{spec.version}: versions are immutable and added in order;"
            f" the next version is {version}"
        )
    row = RateCardRow(
        code=spec.code, version=version, currency=spec.currency,
        effective_from_ms=spec.effective_from_ms, bands_json=cards.bands_json(spec.bands),
        lines_json=cards.lines_json(spec.lines), composition_share_bp=spec.composition_share_bp,
        platform_fee_bp=spec.platform_fee_bp, created_at=utc_now(),
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise RateCardError(f"rate card {spec.code} v{version} was added meanwhile") from None
    return row


def rate_cards(session: Session, code: str | None = None) -> list[RateCardRow]:
    """Every version (of `code`, or of every code), by code and version."""
    query = select(RateCardRow).order_by(RateCardRow.code, RateCardRow.version)
    if code is not None:
        query = query.where(RateCardRow.code == code)
    return list(session.scalars(query))


def tariff_versions(session: Session, code: str) -> list[RateCardRow]:
    """The versions of tariff `code`; the built-in default card as version 1 if it has none."""
    rows = rate_cards(session, code)
    if rows:
        return rows
    with suppress(RateCardError):  # another worker added it at the same moment
        add_rate_card(session, cards.default_card_spec(code))
    return rate_cards(session, code)


def card_of(row: RateCardRow) -> RateCard:
    """The pure RateCard of a stored version."""
    return cards.stored_card(
        row.id, row.code, row.version, row.currency, row.effective_from_ms, row.bands_json,
        row.lines_json,
    )  # fmt: skip


def find_track(session: Session, external_id: str) -> Track:
    """The track with this external id; SharesError if there is none."""
    track = session.scalar(select(Track).where(Track.external_id == external_id))
    if track is None:
        raise SharesError(f"no track {external_id!r} (see `zamio catalog list`)")
    return track


def set_track_shares(session: Session, track_id: int, shares: PoolShares) -> None:
    """Replace the shares of one pool of a track; refused unless they add up to 100 %, roles
    fit the pool, the work code is valid (the track's own ISRC, if it has one) and every party
    code names an earnings account of the kind its prefix says."""
    track = session.get(Track, track_id)
    if track is None:
        raise SharesError(f"no track {track_id}")
    problems = _share_problems(session, track, shares)
    if problems:
        raise SharesError(f"track {track.external_id}, {shares.pool}: " + "; ".join(problems))
    session.execute(
        delete(RightsShare).where(RightsShare.track_id == track_id, RightsShare.pool == shares.pool)
    )
    now = utc_now()
    session.add_all(
        RightsShare(
            track_id=track_id, pool=shares.pool, work_code=shares.work_code, party=line.party,
            role=line.role, share_bp=line.share_bp, created_at=now,
        )
        for line in shares.lines
    )  # fmt: skip
    session.flush()


def _share_problems(session: Session, track: Track, shares: PoolShares) -> list[str]:
    """Why the shares cannot be stored for the track (nothing: they can)."""
    if shares.pool not in ROLES:
        return [f"pool {shares.pool!r}: composition or master"]
    problems = check_shares(shares.shares())
    problems += [f"role {x.role!r} is not one of {', '.join(ROLES[shares.pool])}"
                 for x in shares.lines if x.role not in ROLES[shares.pool]]  # fmt: skip
    try:
        normalize = normalize_iswc if shares.pool == "composition" else normalize_isrc
        if normalize(shares.work_code) != shares.work_code:
            problems.append(f"work code {shares.work_code!r} is not normalized")
    except ValueError as error:
        problems.append(str(error))
    if shares.pool == "master" and track.isrc and _isrc_or_none(track.isrc) != shares.work_code:
        problems.append(f"ISRC {shares.work_code} is not the track's ({track.isrc})")
    if shares.pool == "composition" and track.iswc and track.iswc != shares.work_code:
        problems.append(f"ISWC {shares.work_code} is not the track's ({track.iswc})")
    for party in sorted({x.party for x in shares.lines if x.party is not None}):
        account = find_account(session, party)
        if account is not None and account.kind != party_kind(party):
            problems.append(f"account {party} is a {account.kind}, not {party_kind(party)}")
    return problems


def _isrc_or_none(code: str) -> str | None:
    """A normalized ISRC, or None if `code` is none."""
    try:
        return normalize_isrc(code)
    except ValueError:
        return None


def track_shares(session: Session, track_id: int) -> dict[str, PoolShares]:
    """The track's shares by pool (pools with none on file are missing)."""
    rows = session.scalars(
        select(RightsShare).where(RightsShare.track_id == track_id).order_by(RightsShare.id)
    ).all()
    pools: dict[str, PoolShares] = {}
    for row in rows:
        line = RightsLine(row.party, row.role, row.share_bp)
        held = pools.get(row.pool)
        lines = (held.lines if held else ()) + (line,)
        pools[row.pool] = PoolShares(row.pool, row.work_code, lines)
    return pools


def fallback_codes(track: Track) -> dict[str, str | None]:
    """The work codes of a track's pools when it has no shares on file: its ISWC (from the
    manifest) and its ISRC, if valid; None: its suspense is claimed by track."""
    return {
        "composition": track.iswc,
        "master": _isrc_or_none(track.isrc) if track.isrc else None,
    }


def set_station_tariff(
    session: Session, code: str, station_class: str | None, timezone: str | None
) -> Station:
    """Change a station's class and/or time zone (both checked)."""
    station = find_station(session, code)
    if station is None:
        raise StationError(f"no station {code} (see `zamio station list`)")
    if station_class is not None:
        if not cards.NAME.fullmatch(station_class):
            raise StationError(f"station class {station_class!r}: 1-32 of A-Z a-z 0-9 _ . -")
        station.station_class = station_class
    if timezone is not None:
        try:
            check_timezone(timezone)
        except ValueError as error:
            raise StationError(str(error)) from None
        station.timezone = timezone
    session.flush()
    return station


def open_accounts(session: Session, legs: Iterable[Leg], currency: str) -> None:
    """Open the accounts of a royalty transfer that do not exist yet, each of the kind its code
    says. A station's wallet opened here has no floor: the station is a payable (ARCHITECTURE)."""
    codes = {leg.account for leg in legs}
    known = set(session.scalars(select(Account.code).where(Account.code.in_(codes))))
    for code in sorted(codes - known):
        if code.startswith("station:"):
            spec = account_spec(code, STATION_WALLET, currency, unbounded=True)
        elif code == PLATFORM_FEES:
            spec = account_spec(code, "platform_fees", currency)
        elif code in SUSPENSE_ACCOUNTS.values():
            spec = account_spec(code, "suspense", currency)
        else:
            spec = account_spec(code, party_kind(code), currency)
        open_account(session, spec)


def card_record(row: RateCardRow) -> dict[str, Any]:
    """A stored version as a JSON-ready dict."""
    return {
        "id": row.id, "code": row.code, "version": row.version, "currency": row.currency,
        "effective_from": iso_utc(row.effective_from_ms),
        "effective_from_ms": row.effective_from_ms,
        "composition_share_bp": row.composition_share_bp, "platform_fee_bp": row.platform_fee_bp,
        "bands": json.loads(row.bands_json), "lines": json.loads(row.lines_json),
    }  # fmt: skip
