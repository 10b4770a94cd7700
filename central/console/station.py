"""Station staff's pages under /stations/<code>: health and devices (live), the play log by
day (filtered, paged, as CSV) and the station's wallet (what it owes or has paid, its latest
top-ups and invoices: central/console/funding.py has the rest). Staff of another station get
404 (owner="station"); admins and auditors may open every station. The numbers come from the
functions the API uses: central/api/monitoring.py, plays.queries, ledger.queries,
royalties.earnings and funding.queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, NotFound

from central.api import monitoring
from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN, AUDITOR, STATION
from central.csvtext import rows_as_csv, safe_cell
from central.errors import QueryError
from central.extensions import db, utc_now
from central.funding import queries as funding
from central.ledger import queries as ledger
from central.ledger.errors import UnknownAccount
from central.plays import queries
from central.royalties import earnings
from central.royalties.accrual import station_account
from central.stations import store as stations
from central.stations.models import Station
from central.times import ms_of

blueprint = Blueprint("station", __name__)

STAFF = (ADMIN, AUDITOR, STATION)
PLAYS_PAGE = 100  # plays per page of the log
LINES_PAGE = 50  # statement lines per page
HEALTH_POLL_S = 5  # devices' state on the station page
CSV_COLUMNS = (
    "play_id", "station", "start", "end", "duration_ms", "track", "title", "artist", "isrc",
    "confidence", "status", "closed_at",
)  # fmt: skip


def dashboard() -> str:
    """`/` for station staff: their station's page if they have one, else their stations with
    each one's health."""
    who = current_principal()
    scope = who.station_ids
    mine = [s for s in stations.stations(db.session) if scope is None or s.id in scope]
    if len(mine) == 1:
        return _station_page(mine[0])
    now = utc_now()
    rows = [{"station": s, "health": monitoring.station_health(db.session, s, now)} for s in mine]
    return render_template("station/list.html", rows=rows)


@blueprint.get("/stations/<code>")
@policy(STAFF, scope="stations:read", owner="station")
def station_page(code: str) -> ResponseReturnValue:
    """A station: its devices' health (refreshed live), its wallet, links to its play log."""
    return _station_page(_station(code))


@blueprint.get("/stations/<code>/health")
@policy(STAFF, scope="stations:read", owner="station")
def station_health(code: str) -> ResponseReturnValue:
    """The fragment of the station's devices and their latest events, polled by its page."""
    station = _station(code)
    return render_template("station/health.html", **_health(station))


@blueprint.get("/stations/<code>/plays")
@policy(STAFF, scope="plays:read", owner="station")
def station_plays(code: str) -> ResponseReturnValue:
    """The station's play log of one UTC day, filtered by track and status, one page."""
    station = _station(code)
    day, span, which = _log_args()
    cursor = request.args.get("cursor") or None
    try:
        page = queries.station_plays(db.session, station.id, span, which, PLAYS_PAGE, cursor)
    except QueryError as error:
        raise BadRequest(str(error)) from None
    args = _log_params(day, which)
    next_url = None
    if page.next_cursor:
        next_url = url_for("station.station_plays", code=code, **args, cursor=page.next_cursor)
    csv_url = url_for("station.station_plays_csv", code=code, **args)
    return render_template(
        "station/plays.html", station=station, day=day, which=which, plays=page.plays,
        next_url=next_url, csv_url=csv_url, first_page=cursor is None,
    )  # fmt: skip


@blueprint.get("/stations/<code>/plays.csv")
@policy(STAFF, scope="plays:read", owner="station")
def station_plays_csv(code: str) -> ResponseReturnValue:
    """The station's play log of one UTC day as CSV (the same query and filters), streamed."""
    station = _station(code)
    day, span, which = _log_args()
    rows = queries.all_station_plays(db.session, station.id, span, which)
    name = f"{station.code}-plays-{day.isoformat()}.csv"
    return Response(
        stream_with_context(csv_lines(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blueprint.get("/stations/<code>/wallet")
@policy(STAFF, scope="stations:read", owner="station")
def station_wallet(code: str) -> ResponseReturnValue:
    """What the station owes or has paid: its wallet's balance, a month's statement lines, and
    its latest top-ups and invoices."""
    station = _station(code)
    month = _month(request.args.get("month"))
    cursor = request.args.get("cursor") or None
    account = station_account(station.code)
    try:
        span = _month_span(month)
        page = earnings.statement_page(db.session, account, span, LINES_PAGE, cursor)
    except (QueryError, ValueError) as error:
        raise BadRequest(str(error)) from None
    next_url = None
    if page is not None and page.next_cursor:
        month_text = month.strftime("%Y-%m")
        next_url = url_for("station.station_wallet", code=code, month=month_text,
                           cursor=page.next_cursor)  # fmt: skip
    return render_template(
        "station/wallet.html", station=station, month=month, balance=_balance(account),
        page=page, next_url=next_url, account=account,
        funding=funding.station_summary(db.session, station.id),
    )  # fmt: skip


def csv_lines(plays: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The CSV of a play log: a header row, then one line per play (times ISO-8601 UTC)."""
    return rows_as_csv(CSV_COLUMNS, (csv_row(play) for play in plays))


def csv_row(play: dict[str, Any]) -> list[Any]:
    """One play record (plays.queries.play_record) as a CSV row of CSV_COLUMNS."""
    track = play["track"]
    return [
        play["id"], play["station"], play["start"], play["end"], play["duration_ms"],
        safe_cell(track["external_id"]), safe_cell(track["title"]), safe_cell(track["artist"]),
        track["isrc"] or "", play["confidence"], play["status"], play["closed_at"] or "",
    ]  # fmt: skip


def day_span(day: date) -> queries.TimeRange:
    """[00:00, 24:00) UTC of `day`."""
    since_ms = ms_of(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return queries.time_range(since_ms, since_ms + queries.DAY_MS)


def _station_page(station: Station) -> str:
    """The station's page."""
    account = station_account(station.code)
    return render_template(
        "station/station.html", balance=_balance(account), account=account,
        poll_s=HEALTH_POLL_S, **_health(station),
    )  # fmt: skip


def _health(station: Station) -> dict[str, Any]:
    """The station's health, its devices' and their latest events, newest first."""
    now = utc_now()
    devices = monitoring.device_health(db.session, station, now)
    events = sorted(
        (e for health in devices.values() for e in health["events"]),
        key=lambda e: e["at_ms"],
        reverse=True,
    )
    return {
        "station": station,
        "summary": monitoring.station_health(db.session, station, now),
        "devices": [
            {"device": d, "health": devices.get(d.code)}
            for d in sorted(station.devices, key=lambda d: d.code)
        ],
        "events": events,
        "checked_at": now,
    }


def _balance(account: str) -> ledger.AccountBalance | None:
    """The wallet's balances (`zamio ledger balance`), None before its first transfer."""
    try:
        return ledger.balance(db.session, account)
    except UnknownAccount:
        return None


def _log_args() -> tuple[date, queries.TimeRange, queries.PlayFilter]:
    """The play log's day, its span and the filter, from the query string; 400 when bad."""
    day = _day(request.args.get("day"))
    try:
        which = queries.play_filter(
            track_external_id=request.args.get("track") or None,
            status=request.args.get("status") or None,
        )
        return day, day_span(day), which
    except QueryError as error:
        raise BadRequest(str(error)) from None


def _log_params(day: date, which: queries.PlayFilter) -> dict[str, str]:
    """The query string of a play log page (its day and filter)."""
    params = {"day": day.isoformat()}
    if which.track_external_id:
        params["track"] = which.track_external_id
    if which.status:
        params["status"] = which.status
    return params


def _day(text: str | None) -> date:
    """The UTC day of `text` (YYYY-MM-DD; default today), or 400."""
    if not text:
        return utc_now().date()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest("day: a date like 2026-09-01") from None


def _month(text: str | None) -> date:
    """The first day of the month of `text` (YYYY-MM; default this month), or 400."""
    if not text:
        return utc_now().date().replace(day=1)
    try:
        if len(text) != 7:
            raise ValueError(text)
        return date.fromisoformat(text + "-01")
    except ValueError:
        raise BadRequest("month: a month like 2026-09") from None


def _month_span(month: date) -> queries.TimeRange:
    """[first day, first day of the next month) UTC; ValueError past year 9998."""
    after = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    since = ms_of(datetime(month.year, month.month, 1, tzinfo=UTC))
    return queries.time_range(since, ms_of(datetime(after.year, after.month, 1, tzinfo=UTC)))


def _station(code: str) -> Station:
    """The station with this code, or 404."""
    station = stations.find_station(db.session, code) if stations.CODE.fullmatch(code) else None
    if station is None:
        raise NotFound(f"no station {code[:80]}")
    return station
