"""The demo's last step: an artist's view through the API, as an artist would have it. A user
linked to the artist's earnings account gets a token with the role's read scopes; their plays
and earnings come back over /api/v1 (in process), and another party's earnings are 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask

from central.auth import audit, tokens, users
from central.extensions import db, utc_now

DEMO_ACTOR = "cli:zamio-demo"


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
    email = f"{party.split(':')[1]}@artists.demo"
    with app.app_context():
        user = users.add_user(db.session, email, "artist", None, (), (party,))
        audit.record(db.session, DEMO_ACTOR, "cli", "user.add", "user", user.id,
                     {"email": email, "role": "artist", "parties": [party]})  # fmt: skip
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
