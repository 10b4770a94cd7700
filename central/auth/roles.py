"""Roles, scopes and what each role may hold (pure).

A token carries scopes; a user's role bounds them. Admin and auditor see every object;
station staff see their stations'; artists and rights holders their parties'."""

from __future__ import annotations

from collections.abc import Iterable

ADMIN = "admin"  # the platform operator
STATION = "station"  # staff of one or more stations
ARTIST = "artist"
RIGHTS_HOLDER = "rights_holder"  # labels, publishers, composers
AUDITOR = "auditor"  # a society: read-only over everything, exports
ROLES = (ADMIN, STATION, ARTIST, RIGHTS_HOLDER, AUDITOR)
PARTY_ROLES = frozenset({ARTIST, RIGHTS_HOLDER})

SCOPES = {
    "plays:read": "plays, detections and their royalty explanations",
    "catalog:read": "tracks and their rights shares",
    "catalog:write": "register tracks by upload",
    "ledger:read": "earnings: balances, statements, breakdowns",
    "stations:read": "stations, devices and their health",
    "audit:read": "the audit log and exports",
    "payouts:write": "payout methods and withdrawals of your parties' earnings",
    "tokens:write": "create and revoke your own API tokens",
    "notifications:read": "your notifications, their preferences and your webhook endpoints",
    "notifications:write": "mark notifications read, change preferences, manage webhooks",
    "admin": "everything an admin does: users, stations, rate cards, shares, reviews",
}

_NOTIFICATIONS = frozenset({"notifications:read", "notifications:write"})  # every role's own
_ALLOWED = {
    ADMIN: frozenset(SCOPES),
    AUDITOR: frozenset(
        {"plays:read", "catalog:read", "ledger:read", "stations:read", "audit:read"}
        | {"tokens:write"}
        | _NOTIFICATIONS
    ),
    STATION: frozenset({"stations:read", "plays:read", "tokens:write"}) | _NOTIFICATIONS,
    ARTIST: frozenset(
        {"catalog:read", "catalog:write", "plays:read", "ledger:read", "tokens:write"}
        | {"payouts:write"}
    )
    | _NOTIFICATIONS,
    RIGHTS_HOLDER: frozenset(
        {"catalog:read", "catalog:write", "plays:read", "ledger:read", "tokens:write"}
        | {"payouts:write"}
    )
    | _NOTIFICATIONS,
}


def allowed_scopes(role: str) -> frozenset[str]:
    """Every scope a user of `role` may hold."""
    return _ALLOWED[role]


def default_scopes(role: str) -> frozenset[str]:
    """The scopes of a token asked for without any: the role's read scopes."""
    return frozenset(s for s in _ALLOWED[role] if s.endswith(":read"))


def check_scopes(role: str, scopes: Iterable[str]) -> list[str]:
    """Why `scopes` cannot be given to a user of `role`: unknown ones, ones beyond the role."""
    problems = []
    for scope in sorted(set(scopes)):
        if scope not in SCOPES:
            problems.append(f"scope {scope!r}: unknown (known: {', '.join(sorted(SCOPES))})")
        elif scope not in _ALLOWED[role]:
            problems.append(f"scope {scope!r}: not for the role {role}")
    return problems


def check_role(role: str) -> str | None:
    """Why `role` is not a role, or None."""
    if role in ROLES:
        return None
    return f"role {role!r}: one of {', '.join(ROLES)}"
