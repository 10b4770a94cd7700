"""Users: add, find, link to stations and parties, disable, authenticate, invite and reset.

The domain functions the CLI, the API and the console share; each adds to the session and
leaves committing (with its audit event) to the caller."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from central.auth import keys, roles
from central.auth.errors import BadOneTimeToken, UnknownUser, UserError
from central.auth.models import OneTimeToken, OutboxMessage, User, UserParty, UserStation
from central.extensions import utc_now
from central.royalties.rights import PARTY, RESERVED_PREFIXES
from central.stations import store as stations
from central.times import as_utc, iso_datetime

EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
EMAIL_CHARS_MAX = 254
INVITE_TTL = timedelta(days=7)
RESET_TTL = timedelta(hours=1)
PURPOSES = {"invite": INVITE_TTL, "reset": RESET_TTL}


def normalize_email(text: str) -> str:
    """`text` as the email a user is found by (trimmed, lower case), or UserError."""
    email = text.strip().lower()
    if len(email) > EMAIL_CHARS_MAX or not EMAIL.fullmatch(email):
        raise UserError(f"{text[:80]!r}: not an email address")
    return email


def check_party(party: str) -> str:
    """`party` if it can name an earnings account (as rights shares do), else UserError."""
    if not PARTY.fullmatch(party) or party.startswith(RESERVED_PREFIXES):
        raise UserError(f"party {party[:80]!r}: an earnings account code, e.g. artist:ama:earnings")
    return party


def find_user(session: Session, email: str) -> User | None:
    """The user with this email (any case), with their links loaded."""
    query = select(User).where(User.email == email.strip().lower())
    return session.scalar(query.options(selectinload(User.stations), selectinload(User.parties)))


def get_user(session: Session, email: str) -> User:
    """find_user, or UnknownUser."""
    user = find_user(session, email)
    if user is None:
        raise UnknownUser(f"no user {email[:80]!r}")
    return user


def all_users(session: Session, role: str | None = None) -> list[User]:
    """Every user, by email, optionally of one role."""
    query = select(User).order_by(User.email)
    if role is not None:
        query = query.where(User.role == role)
    return list(session.scalars(query.options(selectinload(User.stations))))


def user_page(
    session: Session, limit: int, role: str | None = None, after_id: int | None = None
) -> list[User]:
    """Up to `limit` users by id after `after_id` (a cursor), of one role if given, with
    their links loaded."""
    query = select(User).order_by(User.id).limit(limit)
    if role:
        query = query.where(User.role == role)
    if after_id is not None:
        query = query.where(User.id > after_id)
    options = (selectinload(User.stations), selectinload(User.parties))
    return list(session.scalars(query.options(*options)))


def add_user(
    session: Session,
    email: str,
    role: str,
    password: str | None = None,
    station_codes: Iterable[str] = (),
    parties: Iterable[str] = (),
) -> User:
    """A new user of `role`, linked as given; without a password until set or invited."""
    email = normalize_email(email)
    if (problem := roles.check_role(role)) is not None:
        raise UserError(problem)
    if find_user(session, email) is not None:
        raise UserError(f"user {email} exists")
    user = User(email=email, role=role, active=True, session_epoch=0)
    if password is not None:
        set_password(user, password)
    session.add(user)
    link(session, user, station_codes, parties)
    check_links(user)
    session.flush()
    return user


def link(
    session: Session, user: User, station_codes: Iterable[str], parties: Iterable[str]
) -> list[str]:
    """Link `user` to more stations and parties; returns what was new, as `station:CODE` and
    `party:CODE`."""
    added = []
    have_stations = {s.station_id for s in user.stations}
    for code in station_codes:
        station = stations.find_station(session, code)
        if station is None:
            raise UserError(f"no station {code[:80]!r}")
        if station.id not in have_stations:
            user.stations.append(UserStation(station_id=station.id))
            have_stations.add(station.id)
            added.append(f"station:{code}")
    have_parties = {p.party for p in user.parties}
    for party in parties:
        if check_party(party) not in have_parties:
            user.parties.append(UserParty(party=party))
            have_parties.add(party)
            added.append(f"party:{party}")
    return added


def unlink(user: User, station_ids: Iterable[int], parties: Iterable[str]) -> None:
    """Remove links of `user` (unknown ones are ignored)."""
    drop_stations, drop_parties = set(station_ids), set(parties)
    user.stations[:] = [s for s in user.stations if s.station_id not in drop_stations]
    user.parties[:] = [p for p in user.parties if p.party not in drop_parties]


def check_links(user: User) -> None:
    """UserError if the role and links do not fit: station staff need a station, artists and
    rights holders a party; others hold neither."""
    if user.role == roles.STATION and not user.stations:
        raise UserError("a station user needs --station CODE")
    if user.role in roles.PARTY_ROLES and not user.parties:
        raise UserError(f"an {user.role} user needs --party CODE (an earnings account code)")
    if user.role not in roles.PARTY_ROLES and user.parties:
        raise UserError(f"a {user.role} user is not linked to parties")
    if user.role != roles.STATION and user.stations:
        raise UserError(f"a {user.role} user is not linked to stations")


def set_password(user: User, password: str) -> None:
    """Set `user`'s password (checked first); ends their console sessions."""
    if (problem := keys.check_password(password)) is not None:
        raise UserError(problem)
    user.password_hash = keys.hash_password(password)
    user.session_epoch = (user.session_epoch or 0) + 1


def set_active(user: User, active: bool, now: datetime) -> None:
    """Disable (their tokens and sessions stop working at once) or enable `user`."""
    user.active = active
    user.disabled_at = None if active else now
    if not active:
        user.session_epoch = (user.session_epoch or 0) + 1


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user whose email and password these are, or None; as slow for an unknown
    email as for a wrong password, so emails cannot be probed by timing."""
    try:
        user = find_user(session, normalize_email(email))
    except UserError:
        user = None
    if not keys.password_matches(None if user is None else user.password_hash, password):
        return None
    if user is None or not user.active:
        return None
    if keys.needs_rehash(user.password_hash or ""):
        user.password_hash = keys.hash_password(password)
    user.last_login_at = utc_now()
    return user


def issue_one_time_token(session: Session, user: User, purpose: str, link_base: str) -> str:
    """A new invite or reset token for `user`, mailed through the outbox; returns it (the CLI
    shows it only when asked). Earlier unused tokens of the same purpose stop working."""
    now = utc_now()
    for old in session.scalars(
        select(OneTimeToken).where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
        )
    ):
        old.used_at = now
    token = keys.new_one_time_token()
    session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=keys.digest(token),
            created_at=now,
            expires_at=now + PURPOSES[purpose],
        )
    )
    session.add(_mail(user.email, purpose, token, link_base, PURPOSES[purpose]))
    return token


def request_password_reset(session: Session, email: str, link_base: str) -> User | None:
    """Mail a reset link if `email` is an active user's; the user, or None (callers answer
    the same either way, so emails cannot be probed)."""
    try:
        user = find_user(session, normalize_email(email))
    except UserError:
        return None
    if user is None or not user.active:
        return None
    issue_one_time_token(session, user, "reset", link_base)
    return user


def redeem_one_time_token(session: Session, token: str, password: str) -> User:
    """Set the password of the token's user and use the token up; BadOneTimeToken if it is
    unknown, used, expired, or its user disabled."""
    if (problem := keys.check_password(password)) is not None:
        raise UserError(problem)
    row = None
    if keys.ONE_TIME.fullmatch(token):
        row = session.scalar(
            select(OneTimeToken).where(OneTimeToken.token_hash == keys.digest(token))
        )
    now = utc_now()
    if row is None or row.used_at is not None or as_utc(row.expires_at) <= now:
        raise BadOneTimeToken("this link is unknown, used or expired: ask for a new one")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise BadOneTimeToken("this link is unknown, used or expired: ask for a new one")
    row.used_at = now
    set_password(user, password)
    return user


def _mail(to: str, purpose: str, token: str, link_base: str, ttl: timedelta) -> OutboxMessage:
    """The invite or reset mail with its link."""
    hours = int(ttl.total_seconds() // 3600)
    if purpose == "invite":
        subject = "You are invited to ZamIO"
        first = "An account was made for you on ZamIO. Choose your password here:"
    else:
        subject = "Reset your ZamIO password"
        first = "Someone (we hope you) asked to reset your ZamIO password. Choose a new one here:"
    link_text = f"{link_base.rstrip('/')}/password?token={token}"
    body = (
        f"{first}\n\n  {link_text}\n\nThe link works once, for {hours} hours.\n"
        f"Or, from a terminal: POST /api/v1/auth/password with this token.\n"
    )
    return OutboxMessage(to_address=to, subject=subject, body=body)


def outbox(session: Session, unsent_only: bool = False, limit: int = 50) -> list[OutboxMessage]:
    """Mail in the outbox, newest first."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if unsent_only:
        query = query.where(OutboxMessage.sent_at.is_(None))
    return list(session.scalars(query))


def user_record(user: User, station_codes: dict[int, str]) -> dict[str, object]:
    """A user as JSON: never their password hash."""
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "active": user.active,
        "stations": sorted(station_codes.get(s.station_id, "?") for s in user.stations),
        "parties": sorted(p.party for p in user.parties),
        "created_at": iso_datetime(user.created_at),
        "last_login_at": iso_datetime(user.last_login_at),
        "disabled_at": iso_datetime(user.disabled_at),
    }
