"""The demo's people: console logins (an admin, the demo station's staff, an artist), each with
a generated password shown once; and the last step, an artist's view through the API, as an
artist would have it. A user linked to the artist's earnings account gets a token with the
role's read scopes; their plays and earnings come back over /api/v1 (in process), and another
party's earnings are 404."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask

from central.auth import audit, keys, roles, tokens, users
from central.auth.models import User
from central.extensions import db, utc_now

DEMO_ACTOR = "cli:zamio-demo"
ADMIN_EMAIL = "admin@zamio.demo"


@dataclass(frozen=True)
class Login:
    """A console login the demo made. The password is shown once, never stored or logged."""

    email: str
    role: str
    password: str = field(repr=False)


def artist_email(party: str) -> str:
    """The demo artist's email: artist:ama-serwaa:earnings -> ama-serwaa@artists.demo."""
    return f"{party.split(':')[1]}@artists.demo"


def station_email(station: str) -> str:
    """The email of the demo station's staff."""
    return f"staff@{station}.demo"


def console_logins(app: Flask, station: str, party: str) -> tuple[Login, ...]:
    """An admin, `station`'s staff and the artist of `party`, each with a new password."""
    wanted = (
        (ADMIN_EMAIL, roles.ADMIN, (), ()),
        (station_email(station), roles.STATION, (station,), ()),
        (artist_email(party), roles.ARTIST, (), (party,)),
    )
    logins = []
    with app.app_context():
        for email, role, station_codes, parties in wanted:
            password = keys.new_password()
            _user(email, role, station_codes, parties, password)
            logins.append(Login(email, role, password))
        db.session.commit()
    return tuple(logins)


def _user(
    email: str, role: str, station_codes: tuple[str, ...], parties: tuple[str, ...],
    password: str | None,
) -> User:  # fmt: skip
    """The demo's user of this email: found, or added (with `password`) and audited."""
    user = users.find_user(db.session, email)
    if user is None:
        user = users.add_user(db.session, email, role, password, station_codes, parties)
        changes: dict[str, object] = {"email": email, "role": role}
        changes |= {"stations": list(station_codes)} if station_codes else {}
        changes |= {"parties": list(parties)} if parties else {}
        audit.record(db.session, DEMO_ACTOR, "cli", "user.add", "user", user.id, changes)
    return user


@dataclass(frozen=True)
class ArtistView:
    """What the artist's token saw."""

    email: str
    party: str
    token_prefix: str  # zamio_pat_<key id>: never the whole token
    scopes: tuple[str, ...]
    plays: int
    balance_minor: int
    currency: str
    others_status: int  # the status of another party's earnings: 404


def artist_view(app: Flask, party: str, other_party: str) -> ArtistView:
    """Make the artist's user and token, then read their plays and earnings over the API."""
    email = artist_email(party)
    with app.app_context():
        user = _user(email, roles.ARTIST, (), (party,), None)  # the console's artist, if made
        row, token = tokens.create_token(
            db.session, user, "demo", None, timedelta(days=1), utc_now()
        )
        db.session.commit()
        prefix, scopes = tokens.token_record(row)["prefix"], tuple(row.scopes.split())
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    plays = client.get("/api/v1/plays", headers=headers, query_string={"limit": 1000}).json
    balances = client.get("/api/v1/earnings", headers=headers).json["balances"]
    others = client.get("/api/v1/earnings", headers=headers, query_string={"party": other_party})
    mine = next(b for b in balances if b["code"] == party)
    return ArtistView(
        email, party, str(prefix), scopes, len(plays["plays"]), mine["balance_minor"],
        mine["currency"], others.status_code,
    )  # fmt: skip
