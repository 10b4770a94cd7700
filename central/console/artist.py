"""The console for artists and rights holders: the dashboard (plays per day and earnings per
month, balance, top stations and tracks, recent plays), a play's detail with its royalty
explanation (every role), their tracks and registering one by upload with the job's progress,
and statements by month with a CSV download.

Thin over the same domain functions as the API, with the same scope: the user's parties, of
which a page shows one (`?party=`, default the first); another party is a 404."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, NotFound

from central import worker
from central.auth import policy as policies
from central.auth.ownership import parties_asked
from central.auth.policy import Principal, current_principal, policy
from central.auth.roles import ARTIST, RIGHTS_HOLDER, ROLES
from central.catalog import queries as catalog
from central.catalog.upload_models import WORKING_STATES
from central.catalog.uploads import recent_uploads, register_upload, too_large, upload_status
from central.errors import QueryError, UploadError
from central.extensions import db
from central.plays import queries
from central.royalties import earnings, rollup, statements
from central.royalties.rights import COMPOSITION, MASTER
from central.times import now_ms

blueprint = Blueprint("artist", __name__)
PARTY_ROLES = (ARTIST, RIGHTS_HOLDER)
DASHBOARD_DAYS = 30
DASHBOARD_MONTHS = 12
TOP_ROWS = 5
RECENT_PLAYS = 10
TRACKS_PAGE = 50
RECENT_UPLOADS = 10
STATEMENT_PAGE = 100
UPLOAD_POLL = "every 2s"
# A share document made from the form when none is pasted: the uploader's party holds all of
# each pool whose code is given, in the role an artist (or a label, publisher) has in it.
POOL_ROLES = {
    ARTIST: {MASTER: "performer", COMPOSITION: "writer"},
    RIGHTS_HOLDER: {MASTER: "label", COMPOSITION: "publisher"},
}
UPLOAD_FIELDS = ("title", "artist", "isrc", "iswc", "external_id")
_MONTH_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}")


def chosen_party(who: Principal, asked: str | None) -> str | None:
    """The party a page shows: `asked` if it is the user's (else NotFound), or their first."""
    if asked:
        parties_asked(who, asked)
        return asked
    return min(who.parties) if who.parties else None


def _party_or_404() -> str | None:
    """The page's party from `?party=`."""
    return chosen_party(current_principal(), request.args.get("party") or None)


@policy(PARTY_ROLES, scope="ledger:read")
def dashboard() -> str:
    """`/` for artists and rights holders: plays per day and earnings per month (charts), the
    balance, top stations and tracks of the last 30 days, recent plays."""
    who = current_principal()
    policies.authorize(who, policies.policy_of(dashboard), {})  # `/` checks only the role set
    party = _party_or_404()
    if party is None:
        return render_template("artist/dashboard.html", party=None, parties=[])
    return render_template(
        "artist/dashboard.html", parties=sorted(who.parties or ()), **dashboard_data(party)
    )


def dashboard_data(party: str) -> dict[str, Any]:
    """Every number of the dashboard for one party, from the API's domain functions."""
    session, scope, now = db.session, frozenset({party}), now_ms()
    span = queries.last_days(now, DASHBOARD_DAYS)
    (balance,) = earnings.balances(session, scope, party)
    monthly = earnings.monthly(session, party, earnings.last_months(now, DASHBOARD_MONTHS), scope)
    by_station = earnings.breakdown(session, party, rollup.STATION, span, scope)
    by_track = earnings.breakdown(session, party, rollup.TRACK, span, scope)
    recent = queries.plays(
        session, span, queries.play_filter(order="desc"), RECENT_PLAYS, parties=scope
    )
    days = queries.plays_per_day(session, span, scope)
    assert monthly is not None and by_station is not None and by_track is not None  # in scope
    return {
        "party": party,
        "span": span,
        "balance": balance,
        "days": days,
        "plays_total": sum(d["plays"] for d in days),  # the series' own sum, as its table shows
        "months": in_currency(monthly.months, balance.currency),
        "plays_chart": plays_chart(days),
        "earnings_chart": earnings_chart(monthly.months, balance.currency),
        "top_stations": in_currency(by_station.rows[:TOP_ROWS], balance.currency),
        "top_tracks": in_currency(by_track.rows[:TOP_ROWS], balance.currency),
        "other_minor": by_track.other_minor,
        "recent": recent.plays,
    }


def in_currency(rows: list[dict[str, Any]], currency: str) -> list[dict[str, Any]]:
    """Rows with the account's currency beside their amounts, for the table's money column."""
    return [{**row, "currency": currency} for row in rows]


def plays_chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """The plays-per-day series as a chart's labels and datasets (the numbers unchanged)."""
    return {
        "labels": [d["day"] for d in days],
        "datasets": [{"label": "Plays", "data": [d["plays"] for d in days]}],
    }


def earnings_chart(months: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    """The earnings-per-month series as a chart's labels and datasets, in the currency's units
    as exact decimal text (Chart.js reads numbers from it), not floats of minor units."""
    return {
        "labels": [m["month"] for m in months],
        "datasets": [
            {
                "label": f"Earnings ({currency})",
                "data": [statements.decimal_text(m["amount_minor"], currency) for m in months],
            }
        ],
    }


@blueprint.get("/plays/<int:play_id>")
@policy(ROLES, scope="plays:read", owner="play")
def play_detail(play_id: int) -> ResponseReturnValue:
    """A play and its royalty explanation: how it was priced, the rate card, the split, the
    transfers that carried it (the API's /plays/<id> and /plays/<id>/royalty)."""
    who = current_principal()
    play = queries.find_play(db.session, play_id, who.parties, who.station_ids)
    royalty = earnings.play_royalty(db.session, play_id, who.parties, who.station_ids)
    if play is None or royalty is None:
        raise NotFound(f"No play {play_id} that you may see.")
    return render_template("shared/play.html", play=play, royalty=royalty)


@blueprint.get("/tracks")
@policy(PARTY_ROLES, scope="catalog:read")
def track_list() -> ResponseReturnValue:
    """The tracks the user's parties hold shares of, a page at a time, and the upload form."""
    return _tracks_page({}, [], 200)


def _tracks_page(form: dict[str, str], problems: list[str], status: int) -> ResponseReturnValue:
    """The tracks page, with the upload form as given and the reasons it was refused."""
    who = current_principal()
    try:
        page = catalog.party_tracks(
            db.session, who.parties, TRACKS_PAGE, request.args.get("cursor") or None
        )
    except QueryError as error:
        raise BadRequest(str(error)) from None
    next_url = url_for("artist.track_list", cursor=page.next_cursor) if page.next_cursor else None
    page_html = render_template(
        "artist/tracks.html", tracks=page.tracks, next_url=next_url, form=form,
        problems=problems, parties=sorted(who.parties or ()),
        uploads=[asdict(u) for u in recent_uploads(db.session, who.parties, RECENT_UPLOADS)],
        working_states=WORKING_STATES,
    )  # fmt: skip
    return page_html, status


@blueprint.post("/tracks")
@policy(PARTY_ROLES, scope="catalog:write")
def track_upload() -> ResponseReturnValue:
    """Register a track by upload (the API's POST /tracks): checked at once, every reason
    shown; then the fingerprint job's progress page."""
    who = current_principal()
    form = {k: request.form.get(k, "") for k in (*UPLOAD_FIELDS, "party", "shares")}
    upload = request.files.get("file")
    problems = [] if upload and upload.filename else ["file: choose an audio file"]
    party = form["party"] or (min(who.parties) if who.parties else "")
    if who.parties is not None and party not in who.parties:
        problems.append("party: one of the parties you speak for")
    document, share_problems = shares_document(form, party, who.role)
    problems += share_problems
    if problems or upload is None:
        return _tracks_page(form, problems, 400)
    fields = {k: form[k] or None for k in UPLOAD_FIELDS}
    fields.update(shares=document, filename=upload.filename)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        row = register_upload(
            db.session, worker.app_queue(app), upload.stream, fields, actor=who.actor,
            via="console", parties=who.parties, settings=app.config["ZAMIO"],
        )  # fmt: skip
    except UploadError as error:
        return _tracks_page(form, error.problems, 413 if too_large(error) else 400)
    return redirect(url_for("artist.upload_detail", upload_id=row.id), 303)


def shares_document(
    form: dict[str, str], party: str, role: str
) -> tuple[dict[str, Any] | None, list[str]]:
    """The shares document of an upload form: the pasted JSON, or (none pasted) `party`
    holding all of each pool whose code (ISRC, ISWC) is given. Pure; problems if neither."""
    pasted = form.get("shares", "").strip()
    if pasted:
        try:
            return json.loads(pasted), []
        except ValueError as error:
            return None, [f"shares: not JSON: {error}"]
    roles = POOL_ROLES.get(role, POOL_ROLES[ARTIST])
    document = {
        pool: {key: form[key].strip(), "shares": [
            {"party": party, "role": roles[pool], "share_bp": 10_000}
        ]}
        for pool, key in ((MASTER, "isrc"), (COMPOSITION, "iswc"))
        if form.get(key, "").strip()
    }  # fmt: skip
    if not document:
        return None, ["shares: give an ISRC or an ISWC (you hold all of it), or paste shares"]
    return document, []


@blueprint.get("/tracks/uploads/<int:upload_id>")
@policy(PARTY_ROLES, scope="catalog:read")
def upload_detail(upload_id: int) -> ResponseReturnValue:
    """An upload's processing (the API's /jobs/<id>); htmx polls this for the fragment alone
    until it is registered, in review, rejected or failed."""
    status = upload_status(db.session, upload_id, current_principal().parties)
    if status is None:
        raise NotFound(f"No upload {upload_id} of yours.")
    working = status.state in WORKING_STATES
    if request.headers.get("HX-Request"):
        return render_template("artist/_upload_progress.html", status=status, working=working)
    return render_template("artist/upload.html", status=status, working=working)


@blueprint.get("/statements")
@policy(PARTY_ROLES, scope="ledger:read")
def statement() -> ResponseReturnValue:
    """A party's statement for a month: opening and closing balance, its lines a page at a
    time (the API's /earnings/statement), a period picker and the CSV download."""
    who = current_principal()
    party = _party_or_404()
    month = _month()
    if party is None:
        return render_template("artist/statements.html", party=None, parties=[], month=month)
    page = _statement_page(party, month, request.args.get("cursor") or None)
    next_url = None
    if page.next_cursor:
        next_url = url_for("artist.statement", party=party, month=month, cursor=page.next_cursor)
    return render_template(
        "artist/statements.html", party=party, parties=sorted(who.parties or ()), month=month,
        page=page, lines=in_currency(page.lines, page.account.currency), next_url=next_url,
        months=earnings.last_months(now_ms(), DASHBOARD_MONTHS),
    )  # fmt: skip


@blueprint.get("/statements/download")
@policy(PARTY_ROLES, scope="ledger:read")
def statement_download() -> Response:
    """The month's statement as CSV, every line (all pages), minor units and decimals; the
    first page is read before the answer starts, so a party not in scope is still a 404."""
    party = _party_or_404()
    if party is None:
        raise NotFound("You speak for no party yet.")
    month = _month()
    page = _statement_page(party, month, None)
    span = earnings.month_range(month)
    lines = earnings.statement_lines(db.session, party, span, current_principal().parties)
    rows = statements.statement_csv(lines, page.account.currency)
    filename = f"statement-{_safe(party)}-{month}.csv"
    return Response(
        stream_with_context(rows),  # a month of a label's lines need not sit in memory
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _statement_page(party: str, month: str, cursor: str | None) -> earnings.StatementPage:
    """One page of the party's statement for the month, or 400/404."""
    try:
        span = earnings.month_range(month)
        page = earnings.statement_page(
            db.session, party, span, STATEMENT_PAGE, cursor, current_principal().parties
        )
    except QueryError as error:
        raise BadRequest(str(error)) from None
    if page is None:
        raise NotFound(f"No party {party[:80]} of yours.")
    return page


def _month() -> str:
    """`?month=` (YYYY-MM), default this UTC month; 400 for anything else."""
    month = request.args.get("month") or earnings.last_months(now_ms(), 1)[0]
    if not _MONTH_TEXT.fullmatch(month):
        raise BadRequest("month: YYYY-MM, e.g. 2026-11")
    return month


def _safe(text: str) -> str:
    """A party code as a file name part (its ':' and '@' would trouble some systems)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:80]
