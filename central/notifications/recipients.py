"""Who is told: the active users of a ledger party, of a station, and the admins. Each returns
user ids, sorted, for `notify`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.auth import roles
from central.auth.models import User, UserParty, UserStation


def party_users(session: Session, party_code: str) -> list[int]:
    """Active users who speak for the party (an earnings account code)."""
    query = (
        select(User.id)
        .join(UserParty, UserParty.user_id == User.id)
        .where(UserParty.party == party_code, User.active.is_(True))
    )
    return sorted(set(session.scalars(query)))


def station_users(session: Session, station_id: int) -> list[int]:
    """Active staff of the station."""
    query = (
        select(User.id)
        .join(UserStation, UserStation.user_id == User.id)
        .where(UserStation.station_id == station_id, User.active.is_(True))
    )
    return sorted(set(session.scalars(query)))


def admins(session: Session) -> list[int]:
    """Active admins."""
    query = select(User.id).where(User.role == roles.ADMIN, User.active.is_(True))
    return sorted(session.scalars(query))
