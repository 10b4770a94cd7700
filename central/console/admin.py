"""The admin side of the console (/admin): the overview, stations and devices with live health,
the catalogue and its upload reviews, the quarantine, the ledger and its checks, rate cards,
users and tokens, the audit log. Admins see and do everything; auditors read (the write
actions are admin only, as in the API). Each view is thin over the domain function the API
uses, and names the API's policy."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, NotFound

from central import queues
from central.auth import actions, audit, roles, tokens, users
from central.auth.errors import UserError
from central.auth.models import User
from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN, AUDITOR
from central.catalog import queries as catalog
from central.catalog import review
from central.catalog.upload_models import REVIEW_STATES
from central.errors import QueryError, ReviewError
from central.extensions import db, utc_now
from central.ingest import quarantine as quarantined
from central.ledger import accounts as ledger_accounts
from central.ledger import verify_runs
from central.ledger.queries import account_balance
from central.monitoring import overview as overviews
from central.monitoring import report
from central.plays import queries as play_queries
from central.royalties import earnings
from central.royalties import store as royalties
from central.stations import store as station_store
from central.times import at_ms, now_ms, parse_instant_ms

blueprint = Blueprint("console_admin", __name__, url_prefix="/admin")
READERS = (ADMIN, AUDITOR)
PAGE = 50  # rows per page of every list
TEXT_CHARS_MAX = 200  # a search or filter box
STATEMENT_SPAN_MS = 31 * 86_400_000  # an account's statement: the last 31 days by default
TRACK_CHART_DAYS = 90
VIA = "console"


def dashboard() -> str:
    """The admin's and auditor's `/`: the overview, its numbers refreshed by polling."""
    return render_template("admin/dashboard.html", overview=_overview())


@blueprint.get("/overview")
@policy(READERS, scope="stations:read")
def overview_fragment() -> ResponseReturnValue:
    """The overview's live numbers (htmx polls this; the API's GET /admin/overview)."""
    return render_template("admin/_overview.html", overview=_overview())


def _overview() -> dict[str, Any]:
    """The overview now, from the function the API's /admin/overview calls."""
    queue = queues.settings_queue(current_app.config["ZAMIO"].redis_url)
    return overviews.overview(db.session, queue, utc_now())


@blueprint.get("/stations")
@policy(READERS, scope="stations:read")
def stations() -> ResponseReturnValue:
    """Every station with each device's health; htmx polls the table (same view)."""
    found = report.station_health(db.session, utc_now(), events_max=0)
    template = (
        "admin/_stations.html" if request.headers.get("HX-Request") else "admin/stations.html"
    )
    return render_template(template, stations=found)


@blueprint.get("/tracks")
@policy(READERS, scope="catalog:read")
def tracks() -> ResponseReturnValue:
    """The catalogue: search by title, artist or external id, a page at a time."""
    text = _text("q")
    page = _query(
        catalog.party_tracks, db.session, current_principal().parties, PAGE,
        _arg("cursor"), text,
    )  # fmt: skip
    next_url = None
    if page.next_cursor:
        next_url = url_for("console_admin.tracks", q=text or None, cursor=page.next_cursor)
    return render_template("admin/tracks.html", tracks=page.tracks, q=text or "", next_url=next_url)


@blueprint.get("/tracks/<int:track_id>")
@policy(READERS, scope="catalog:read", owner="track")
def track(track_id: int) -> ResponseReturnValue:
    """One track: its shares, its plays per day (a chart and its table) and near-duplicates."""
    found = catalog.find_track(db.session, track_id, current_principal().parties)
    if found is None:
        raise NotFound(f"no track {track_id}")
    span = play_queries.last_days(now_ms(), TRACK_CHART_DAYS)
    series = play_queries.plays_per_day(db.session, span, track_id=track_id)
    return render_template(
        "admin/track.html",
        track=catalog.track_record(db.session, found),
        series=series,
        total=sum(d["plays"] for d in series),
        days=TRACK_CHART_DAYS,
        near=catalog.near_duplicates_of(db.session, track_id),
    )


@blueprint.get("/reviews")
@policy([ADMIN], scope="admin")
def reviews() -> ResponseReturnValue:
    """Uploads whose recording is registered to others, waiting for a decision (or decided)."""
    state = request.args.get("state", "pending")
    if state not in REVIEW_STATES:
        raise BadRequest(f"state: one of {', '.join(REVIEW_STATES)}")
    page = _query(review.pending_reviews, db.session, PAGE, _arg("cursor"), state)
    next_url = None if not page.next_cursor else url_for(
        "console_admin.reviews", state=state, cursor=page.next_cursor
    )  # fmt: skip
    return render_template(
        "admin/reviews.html",
        reviews=[asdict(r) for r in page.reviews],
        state=state,
        states=REVIEW_STATES,
        next_url=next_url,
        message=request.args.get("done"),
    )


@blueprint.post("/reviews/<int:review_id>/<any(approve, reject):decision>")
@policy([ADMIN], scope="admin")
def review_decide(review_id: int, decision: str) -> ResponseReturnValue:
    """Approve or reject a review, as the API does (review.decide: audited, committed)."""
    if review.review_summary(db.session, review_id) is None:
        raise NotFound(f"no review {review_id}")
    note = request.form.get("note", "").strip() or None
    try:
        review.decide(db.session, review_id, decision, current_principal().actor, VIA, note)
    except ReviewError as error:
        db.session.rollback()
        return _reviews_error(str(error))
    done = f"Review {review_id}: {'approved' if decision == 'approve' else 'rejected'}."
    return redirect(url_for("console_admin.reviews", done=done), 303)


def _reviews_error(message: str) -> ResponseReturnValue:
    """The pending reviews again, with why the decision could not be made (409)."""
    page = review.pending_reviews(db.session, PAGE)
    html = render_template(
        "admin/reviews.html", reviews=[asdict(r) for r in page.reviews], state="pending",
        states=REVIEW_STATES, next_url=None, message=None, error=message,
    )  # fmt: skip
    return html, 409


@blueprint.get("/quarantine")
@policy(READERS, scope="stations:read")
def quarantine() -> ResponseReturnValue:
    """Payloads ingest refused, newest first, with their reasons; filter by reason."""
    reason = _text("reason")
    before = _int_arg("before")
    rows = quarantined.quarantine_page(db.session, PAGE + 1, reason, before)
    page = [quarantined.quarantine_record(q) for q in rows[:PAGE]]
    next_url = None
    if len(rows) > PAGE:
        next_url = url_for("console_admin.quarantine", reason=reason or None, before=page[-1]["id"])
    return render_template(
        "admin/quarantine.html", payloads=page, reason=reason or "",
        reasons=quarantined.reasons(db.session), next_url=next_url,
    )  # fmt: skip


@blueprint.get("/ledger")
@policy(READERS, scope="ledger:read")
def ledger() -> ResponseReturnValue:
    """Ledger accounts with their balances, by code, a page at a time; filter by prefix."""
    prefix = _text("prefix")
    after = _text("after")
    rows = ledger_accounts.accounts(db.session, prefix, after, PAGE + 1)
    page = [account_balance(a).as_dict() for a in rows[:PAGE]]
    next_url = None
    if len(rows) > PAGE:
        next_url = url_for("console_admin.ledger", prefix=prefix or None, after=page[-1]["code"])
    latest = verify_runs.latest_run(db.session)
    return render_template(
        "admin/ledger.html", accounts=page, prefix=prefix or "", next_url=next_url,
        last_verify=None if latest is None else verify_runs.run_record(latest),
    )  # fmt: skip


@blueprint.get("/ledger/accounts/<code>")
@policy(READERS, scope="ledger:read")
def statement(code: str) -> ResponseReturnValue:
    """An account's statement over [since, until) (the last 31 days by default), a page at a
    time, with its opening and closing balance: the API's earnings statement function."""
    if ledger_accounts.find_account(db.session, code) is None:
        raise NotFound(f"no account {code[:80]}")
    since, until = _text("since"), _text("until")
    span = _query(
        play_queries.parse_time_range, since, until, now_ms(), STATEMENT_SPAN_MS,
        earnings.EARNINGS_RANGE_MS_MAX,
    )  # fmt: skip
    page = _query(
        earnings.statement_page, db.session, code, span, PAGE, _arg("cursor"),
        current_principal().parties,
    )  # fmt: skip
    if page is None:
        raise NotFound(f"no account {code[:80]}")
    next_url = None
    if page.next_cursor:
        next_url = url_for(
            "console_admin.statement", code=code, since=since or None, until=until or None,
            cursor=page.next_cursor,
        )  # fmt: skip
    return render_template(
        "admin/statement.html", page=page, account=page.account.as_dict(), since=since or "",
        until=until or "", next_url=next_url,
    )  # fmt: skip


@blueprint.get("/ledger/verify")
@policy(READERS, scope="ledger:read")
def verify_report() -> ResponseReturnValue:
    """The kept ledger checks, newest first, the latest with every problem it found."""
    runs = [verify_runs.run_record(r) for r in verify_runs.recent_runs(db.session)]
    return render_template("admin/verify.html", runs=runs, message=request.args.get("done"))


@blueprint.post("/ledger/verify")
@policy([ADMIN], scope="admin")
def verify_run() -> ResponseReturnValue:
    """Check the whole ledger now and keep the result (audited), as the API's POST does."""
    run, _ = verify_runs.run_verify(db.session, current_principal().actor, VIA)
    db.session.commit()
    verdict = "ok" if run.ok else "problems found"
    return redirect(url_for("console_admin.verify_report", done=f"Ledger checked: {verdict}."), 303)


@blueprint.get("/ratecards")
@policy(READERS, scope="ledger:read")
def ratecards() -> ResponseReturnValue:
    """Every rate card version, with its bands and lines."""
    cards = [royalties.card_record(row) for row in royalties.rate_cards(db.session)]
    return render_template("admin/ratecards.html", cards=cards)


@blueprint.get("/users")
@policy([ADMIN], scope="admin")
def user_list() -> ResponseReturnValue:
    """Every user (of a role, if chosen), by id, a page at a time; the form to invite one."""
    return _users_page()


def _users_page(error: str | None = None, form: dict[str, str] | None = None) -> Any:
    """The users page, with the invite form's problem and values when it failed."""
    role = request.args.get("role") or None
    if role is not None and role not in roles.ROLES:
        raise BadRequest(f"role: one of {', '.join(roles.ROLES)}")
    after = _int_arg("after")
    rows = users.user_page(db.session, PAGE + 1, role, after)
    codes = station_store.codes_by_id(db.session)
    page = [users.user_record(u, codes) for u in rows[:PAGE]]
    next_url = None
    if len(rows) > PAGE:
        next_url = url_for("console_admin.user_list", role=role, after=page[-1]["id"])
    html = render_template(
        "admin/users.html", users=page, role=role or "", roles=roles.ROLES, next_url=next_url,
        message=request.args.get("done"), error=error, form=form or {},
    )  # fmt: skip
    return html if error is None else (html, 400)


@blueprint.post("/users")
@policy([ADMIN], scope="admin")
def user_invite() -> ResponseReturnValue:
    """Add a user and mail them an invite to choose their password (the API's user add)."""
    form = {k: request.form.get(k, "").strip() for k in ("email", "role", "stations", "parties")}
    try:
        record = actions.invite_user(
            db.session, current_principal().actor, VIA, form["email"], form["role"],
            _codes(form["stations"]), _codes(form["parties"]),
            current_app.config["ZAMIO"].public_url,
        )  # fmt: skip
    except UserError as error:
        db.session.rollback()
        return _users_page(str(error), form)
    db.session.commit()
    done = f"{record['email']} added as {record['role']}: an invite is in the outbox."
    return redirect(url_for("console_admin.user_list", done=done), 303)


@blueprint.get("/users/<int:user_id>")
@policy([ADMIN], scope="admin")
def user_detail(user_id: int) -> ResponseReturnValue:
    """One user: their links and state, and their API tokens (revoked ones too)."""
    user = _user(user_id)
    record = users.user_record(user, station_store.codes_by_id(db.session))
    rows = [tokens.token_record(t) for t in tokens.user_tokens(db.session, user.id, True)]
    return render_template(
        "admin/user.html", user=record, tokens=rows, message=request.args.get("done")
    )


@blueprint.post("/users/<int:user_id>/<any(enable, disable):change>")
@policy([ADMIN], scope="admin")
def user_active(user_id: int, change: str) -> ResponseReturnValue:
    """Enable or disable a user (their tokens and sessions stop at once), audited."""
    user = _user(user_id)
    changed = actions.set_user_active(
        db.session, current_principal().actor, VIA, user, change == "enable"
    )
    db.session.commit()
    state = "enabled" if change == "enable" else "disabled"
    done = f"{user.email} {state}." if changed else f"{user.email} was already {state}."
    return redirect(url_for("console_admin.user_detail", user_id=user.id, done=done), 303)


@blueprint.post("/tokens/<int:token_id>/revoke")
@policy([ADMIN], scope="admin")
def token_revoke(token_id: int) -> ResponseReturnValue:
    """Revoke any user's token (it stops working at once), audited, as `zamio token revoke`."""
    token = tokens.find_token(db.session, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}")
    changed = actions.revoke_token(db.session, current_principal().actor, VIA, token)
    db.session.commit()
    done = f"Token {token_id} {'revoked' if changed else 'was already revoked'}."
    return redirect(url_for("console_admin.user_detail", user_id=token.user_id, done=done), 303)


@blueprint.get("/audit")
@policy(READERS, scope="audit:read")
def audit_log() -> ResponseReturnValue:
    """The audit log, oldest first, filtered by time, actor and action, a page at a time."""
    filters = {k: _text(k) for k in ("since", "until", "actor", "action")}
    rows = audit.events(
        db.session,
        since=_instant(filters["since"], "since"),
        until=_instant(filters["until"], "until"),
        actor=filters["actor"],
        action=filters["action"],
        after_id=_int_arg("after"),
        limit=PAGE + 1,
    )
    page = [audit.event_record(e) for e in rows[:PAGE]]
    next_url = None
    if len(rows) > PAGE:
        shown = {k: v for k, v in filters.items() if v}
        next_url = url_for("console_admin.audit_log", **shown, after=page[-1]["id"])
    return render_template(
        "admin/audit.html", events=page, filters={k: v or "" for k, v in filters.items()},
        next_url=next_url,
    )  # fmt: skip


def _user(user_id: int) -> User:
    """The user with this id, or 404."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def _codes(text: str) -> list[str]:
    """Codes typed in one box, separated by commas or spaces."""
    return [c for c in text.replace(",", " ").split() if c]


def _arg(name: str) -> str | None:
    """A query parameter (a cursor), None when absent or empty."""
    value = request.args.get(name, "")
    return value or None


def _text(name: str) -> str | None:
    """A filter box's text (trimmed), None when empty; 400 when too long."""
    value = request.args.get(name, "").strip()
    if len(value) > TEXT_CHARS_MAX:
        raise BadRequest(f"{name}: at most {TEXT_CHARS_MAX} characters")
    return value or None


def _int_arg(name: str) -> int | None:
    """A query parameter that is a row id, or None; 400 when it is not one."""
    value = request.args.get(name, "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 12:
        raise BadRequest(f"{name}: a row id")
    return int(value)


def _instant(text: str | None, name: str) -> Any:
    """A filter's instant (ISO-8601, epoch ms or an age like 7d) as a datetime; 400 if not."""
    if text is None:
        return None
    try:
        return at_ms(parse_instant_ms(text, now_ms()))
    except (ValueError, OverflowError) as error:
        raise BadRequest(f"{name}: {error}") from None


def _query(function: Any, *args: Any) -> Any:
    """A domain query whose QueryError (a bad cursor, range or limit) is the visitor's 400."""
    try:
        return function(*args)
    except QueryError as error:
        raise BadRequest(str(error)) from None
