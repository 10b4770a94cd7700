"""The live feed, for every role, scoped like the API: plays (and, for staff, detections) as
they are stored. `/live` shows the latest; its poller asks `/live/feed` every second for the
rows stored after its cursor (central/plays/feed.py), which the fragment prepends and carries on
in the next poller's URL, so it resumes where it left off and never repeats or skips a row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from central.auth.policy import Principal, current_principal, policy
from central.auth.roles import ROLES
from central.errors import QueryError
from central.extensions import db
from central.plays import feed, queries
from central.times import now_ms

blueprint = Blueprint("live", __name__)

KEEP = 100  # rows a table of the page keeps; past it, the table is drawn again with the latest
POLL_S = 1  # a play shows within 2 s of being stored: one poll interval plus the request
RECENT_PLAYS_MS = 86_400_000  # what the page opens with: the plays that started in the last day
RECENT_DETECTIONS_MS = 3_600_000  # and the detections of the last hour
SHOWN_MAX = 10_000  # a poller's row count beyond this is no count the page made


@dataclass(frozen=True)
class Table:
    """One table of the feed: its rows to show, how, and where its cursor is."""

    kind: str  # "plays" or "detections"
    rows: list[dict[str, Any]]
    cursor: feed.Cursor
    shown: int  # rows on the page after this response
    redraw: bool  # True: the rows replace the table's; False: they go on top of it


@blueprint.get("/live")
@policy(ROLES, scope="plays:read")
def live_page() -> ResponseReturnValue:
    """The live feed page: the latest plays (and detections) in the caller's scope."""
    tables = [_opened(kind, current_principal()) for kind in kinds(current_principal())]
    return render_template("shared/live.html", tables=tables, poll_url=poll_url(tables), keep=KEEP)


@blueprint.get("/live/feed")
@policy(ROLES, scope="plays:read")
def live_feed() -> ResponseReturnValue:
    """The poller's fragment: the rows stored after its cursors, and the next poller."""
    who = current_principal()
    tables = [_polled(kind, who) for kind in kinds(who)]
    return render_template(
        "shared/live_feed.html", tables=tables, poll_url=poll_url(tables), poll_s=POLL_S
    )


def kinds(who: Principal) -> tuple[str, ...]:
    """The feed's tables for a principal: artists and rights holders see plays of their tracks
    only; staff (admins, auditors, a station's) the detections behind them too."""
    return ("plays",) if who.parties is not None else ("plays", "detections")


def poll_url(tables: list[Table]) -> str:
    """The URL of the next poll: each table's cursor and how many rows it shows."""
    params: dict[str, str | int] = {}
    for table in tables:
        suffix = "_play" if table.kind == "plays" else ""
        params[f"after{suffix}"] = table.cursor.after
        params[f"held{suffix}"] = feed.held_text(table.cursor)
        params[f"shown{suffix}"] = table.shown
    return url_for("live.live_feed") + "?" + urlencode(params)


def _opened(kind: str, who: Principal) -> Table:
    """A table as the page opens: the cursor of now, and the latest rows up to it."""
    cursor = queries.feed_start(db.session, kind)
    rows = _recent(kind, who, cursor)
    return Table(kind, rows, cursor, len(rows), redraw=True)


def _polled(kind: str, who: Principal) -> Table:
    """A table after a poll: the rows stored since the poller's cursor, on top of the shown
    ones, or the whole table again when it would pass KEEP rows."""
    suffix = "_play" if kind == "plays" else ""
    cursor, shown = _cursor(suffix)
    if cursor is None:
        return _opened(kind, who)
    after = queries.plays_after if kind == "plays" else queries.detections_after
    page = after(db.session, cursor, who.parties, who.station_ids)
    if shown + len(page.rows) <= KEEP:
        return Table(kind, page.rows, page.cursor, shown + len(page.rows), redraw=False)
    fresh = {row["id"] for row in page.rows}
    rows = page.rows + [r for r in _recent(kind, who, page.cursor) if r["id"] not in fresh]
    return Table(kind, rows[:KEEP], page.cursor, len(rows[:KEEP]), redraw=True)


def _recent(kind: str, who: Principal, cursor: feed.Cursor) -> list[dict[str, Any]]:
    """The latest rows in scope that the cursor has seen (later ones come with a poll)."""
    now = now_ms()
    if kind == "plays":
        span = queries.time_range(now - RECENT_PLAYS_MS, now + 1)
        which = queries.play_filter(order="desc")
        rows = queries.plays(db.session, span, which, KEEP, None, who.parties, who.station_ids)
        found = rows.plays
    else:
        span = queries.time_range(now - RECENT_DETECTIONS_MS, now + 1)
        found = queries.detections(db.session, span, KEEP, who.parties, who.station_ids)
    held = set(cursor.held)
    return [r for r in found if r["id"] <= cursor.after and r["id"] not in held]


def _cursor(suffix: str) -> tuple[feed.Cursor | None, int]:
    """The poller's cursor and row count for one table, or 400 when malformed."""
    try:
        cursor = feed.parse(request.args.get(f"after{suffix}"), request.args.get(f"held{suffix}"))
    except QueryError as error:
        raise BadRequest(str(error)) from None
    shown = request.args.get(f"shown{suffix}", "0")
    if not shown.isdigit() or int(shown) > SHOWN_MAX:
        raise BadRequest(f"shown{suffix}: a row count")
    return cursor, int(shown)
