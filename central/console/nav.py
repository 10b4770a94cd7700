"""The console's navigation by role: (label, endpoint) in order. Each audience adds its pages."""

from __future__ import annotations

from flask import url_for

from central.auth import roles

EVERYONE = [("Dashboard", "console.dashboard")]
NAV: dict[str, list[tuple[str, str]]] = {
    roles.ADMIN: [
        ("Live", "live.live_page"),
        ("Stations", "console_admin.stations"),
        ("Catalogue", "console_admin.tracks"),
        ("Reviews", "console_admin.reviews"),
        ("Quarantine", "console_admin.quarantine"),
        ("Ledger", "console_admin.ledger"),
        ("Payouts", "payouts_console.queue"),
        ("Funding", "console_funding.admin_funding"),
        ("Rate cards", "console_admin.ratecards"),
        ("Users", "console_admin.user_list"),
        ("Audit log", "console_admin.audit_log"),
    ],
    roles.AUDITOR: [
        ("Live", "live.live_page"),
        ("Stations", "console_admin.stations"),
        ("Catalogue", "console_admin.tracks"),
        ("Quarantine", "console_admin.quarantine"),
        ("Ledger", "console_admin.ledger"),
        ("Payouts", "payouts_console.queue"),
        ("Funding", "console_funding.admin_funding"),
        ("Rate cards", "console_admin.ratecards"),
        ("Audit log", "console_admin.audit_log"),
    ],
    roles.STATION: [
        ("Live", "live.live_page"),
    ],
    roles.ARTIST: [
        ("Live", "live.live_page"),
        ("Tracks", "artist.track_list"),
        ("Statements", "artist.statement"),
        ("Payouts", "payouts_console.payouts_page"),
    ],
    roles.RIGHTS_HOLDER: [
        ("Live", "live.live_page"),
        ("Tracks", "artist.track_list"),
        ("Statements", "artist.statement"),
        ("Payouts", "payouts_console.payouts_page"),
    ],
}
INBOX_ENDPOINT = "notifications_console.inbox_page"
ACCOUNT = [("Inbox", INBOX_ENDPOINT), ("Account", "console.account")]  # every role


def items(role: str | None) -> list[tuple[str, str]]:
    """(label, URL) of the nav for `role` (none when signed out)."""
    if role is None:
        return []
    return [(label, url_for(endpoint)) for label, endpoint in EVERYONE + NAV[role] + ACCOUNT]
