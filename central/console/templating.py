"""What every console template may use: the CSRF field, the nav of the user's role, and
filters that show money, instants and ages one way everywhere (the values come from domain
functions; these only format them)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Flask, g, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from central.console import nav
from central.ledger.money import format_minor
from central.times import as_utc, at_ms, ms_of, now_ms

_NOT_ID = re.compile(r"[^a-z0-9]+")
HTMX_CONFIG = '{"includeIndicatorStyles": false, "allowEval": false, "allowScriptTags": false}'


def init_app(app: Flask) -> None:
    """Register the console's filters and context on `app`'s Jinja environment."""
    app.jinja_env.filters.update(money=money, instant=instant, ago=ago, day=day)
    # globals, not context: macros imported without context (`import ... as c`) see them too
    app.jinja_env.globals.update(csrf_field=csrf_field, dom_id=dom_id)
    app.context_processor(_context)


def _context() -> dict[str, Any]:
    """Per request: the CSRF field, the signed-in user and their nav."""
    principal = g.get("zamio_principal")
    role = principal.role if principal is not None else None
    return {
        "signed_in": current_user.is_authenticated,
        "principal": principal,
        "nav_items": nav.items(role),
        "current_path": request.path,
        "htmx_config": HTMX_CONFIG,
    }


def dom_id(text: str, kind: str) -> str:
    """An element id unique on this page, readable from `text`: `plays-today-caption-3`."""
    count = g.get("zamio_dom_ids", 0) + 1
    g.zamio_dom_ids = count
    slug = _NOT_ID.sub("-", str(text).lower()).strip("-")[:40] or "x"
    return f"{slug}-{kind}-{count}"


def csrf_field() -> Markup:
    """The hidden input every console form carries."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


def money(amount_minor: int | None, currency: str | None = "GHS") -> str:
    """'GHS 12.50' for 1250 (the ledger's own formatting); '–' when there is no amount."""
    if amount_minor is None:
        return "–"
    return format_minor(int(amount_minor), currency or "GHS")


def _ms(moment: int | datetime | str | None) -> int | None:
    """An instant given as UTC ms, a datetime or an ISO-8601 string, as UTC ms."""
    if moment is None or moment == "":
        return None
    if isinstance(moment, datetime):
        return ms_of(as_utc(moment))
    if isinstance(moment, str):
        from central.times import parse_iso_ms

        return parse_iso_ms(moment)
    return int(moment)


def instant(moment: int | datetime | str | None) -> Markup | str:
    """A `<time>` element: '2026-12-04 18:40:12 UTC', machine-readable in `datetime`."""
    ms = _ms(moment)
    if ms is None:
        return "–"
    shown = at_ms(ms).strftime("%Y-%m-%d %H:%M:%S UTC")
    iso = at_ms(ms).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Markup('<time datetime="{}">{}</time>').format(iso, shown)


def day(moment: int | datetime | str | None) -> str:
    """The UTC day of an instant, 2026-12-04."""
    ms = _ms(moment)
    return "–" if ms is None else at_ms(ms).strftime("%Y-%m-%d")


def ago(moment: int | datetime | str | None, now: int | None = None) -> str:
    """How long ago, in the largest whole unit: '12 s ago', '3 min ago', '2 h ago', '5 d ago'."""
    ms = _ms(moment)
    if ms is None:
        return "never"
    seconds = max(0, ((now_ms() if now is None else now) - ms) // 1000)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"
