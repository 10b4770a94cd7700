"""Admin: users (list, add, disable, link), the audit log (admins and auditors), the ingest
quarantine, the operator's overview and the kept ledger checks. Every write is audited with
its actor."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema, fields, validators
from flask import current_app
from sqlalchemy import select
from werkzeug.exceptions import BadRequest, NotFound

from central import queues
from central.api import pagination
from central.api.idempotency import idempotent
from central.api.platform import VerifyOut
from central.api.schemas import Strict, cursor_field, instant_field, limit_field
from central.auth import actions, audit, roles, users
from central.auth.errors import UserError
from central.auth.models import User
from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN, AUDITOR
from central.extensions import db, utc_now
from central.ingest import quarantine
from central.ledger import verify_runs
from central.monitoring import overview as overviews
from central.stations import store as station_store
from central.stations.models import Station
from central.times import at_ms, now_ms, parse_instant_ms

blueprint = APIBlueprint("admin", __name__, url_prefix="/api/v1", tag="Admin")
CODES_MAX = 50


class UserOut(Schema):
    """A user: never their password hash."""

    id = fields.Integer(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)
    active = fields.Boolean(required=True)
    stations = fields.List(fields.String(), required=True)
    parties = fields.List(fields.String(), required=True)
    created_at = fields.String(allow_none=True)
    last_login_at = fields.String(allow_none=True)
    disabled_at = fields.String(allow_none=True)


class UserPage(Schema):
    """One page of users, by id."""

    users = fields.List(fields.Nested(UserOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class UsersQuery(Strict):
    """role, limit, cursor."""

    role = fields.String(validate=validators.OneOf(roles.ROLES))
    limit = limit_field(100, 500)
    cursor = cursor_field()


def _codes() -> fields.List:
    """A list of station or party codes."""
    return fields.List(
        fields.String(validate=validators.Length(1, 128)), validate=validators.Length(0, CODES_MAX)
    )


class UserIn(Schema):
    """A user to add: invited by mail (the outbox) to choose their password."""

    email = fields.String(required=True, validate=validators.Length(3, users.EMAIL_CHARS_MAX))
    role = fields.String(required=True, validate=validators.OneOf(roles.ROLES))
    stations = _codes()
    parties = _codes()


class UserPatch(Schema):
    """Changes to a user: active, links to add or remove."""

    active = fields.Boolean()
    add_stations = _codes()
    remove_stations = _codes()
    add_parties = _codes()
    remove_parties = _codes()


class AuditOut(Schema):
    """One audit event."""

    id = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    via = fields.String(required=True)
    action = fields.String(required=True)
    object_type = fields.String(required=True)
    object_id = fields.String(required=True)
    changes = fields.Dict(required=True)


class AuditPage(Schema):
    """One page of the audit log, oldest first."""

    events = fields.List(fields.Nested(AuditOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class AuditQuery(Strict):
    """since, until, actor, action, limit, cursor."""

    since = instant_field("from")
    until = instant_field("until")
    actor = fields.String(validate=validators.Length(1, 120))
    action = fields.String(validate=validators.Length(1, 64))
    limit = limit_field(100, 500)
    cursor = cursor_field()


class QuarantineOut(Schema):
    """A payload ingest refused."""

    id = fields.Integer(required=True)
    received_at = fields.String(allow_none=True)
    topic = fields.String(required=True)
    reason = fields.String(required=True)
    detail = fields.String(required=True)
    payload_bytes = fields.Integer(required=True)


class QuarantinePage(Schema):
    """One page of the quarantine, newest first."""

    payloads = fields.List(fields.Nested(QuarantineOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class QuarantineQuery(Strict):
    """reason, limit, cursor."""

    reason = fields.String(validate=validators.Length(1, 64))
    limit = limit_field(100, 500)
    cursor = cursor_field()


class AgentCounts(Schema):
    """Active devices by state."""

    online = fields.Integer(required=True)
    offline = fields.Integer(required=True)
    stale = fields.Integer(required=True)
    never_seen = fields.Integer(required=True)


class StreamConditionOut(Schema):
    """A source that is down or in dead air now, by its latest health events."""

    station = fields.String(required=True)
    device = fields.String(required=True)
    source_id = fields.String(required=True)
    condition = fields.String(required=True, metadata={"description": "down or dead_air"})
    since = fields.String(required=True)
    for_s = fields.Integer(required=True)


class MoneyOut(Schema):
    """An amount in minor units of its currency."""

    currency = fields.String(required=True)
    amount_minor = fields.Integer(required=True)


class QueueOut(Schema):
    """The job queue: depth, failed jobs and the age of the oldest waiting job."""

    inline = fields.Boolean(required=True, metadata={"description": "the embedded queue"})
    available = fields.Boolean(required=True)
    error = fields.String(allow_none=True, required=True)
    depth = fields.Integer(allow_none=True, required=True)
    failed = fields.Integer(allow_none=True, required=True)
    oldest_job_age_s = fields.Integer(allow_none=True, required=True)


class VerifyRunOut(VerifyOut):
    """A kept run of the ledger check: when, by whom, through what, and what it found."""

    id = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    via = fields.String(required=True)
    duration_ms = fields.Integer(required=True)


class VerifyRunList(Schema):
    """The latest ledger checks, newest first."""

    runs = fields.List(fields.Nested(VerifyRunOut), required=True)


class OverviewOut(Schema):
    """The operator's overview now (central/monitoring/overview.py)."""

    at = fields.String(required=True)
    stations = fields.Integer(required=True)
    stations_monitored = fields.Integer(required=True)
    agents = fields.Nested(AgentCounts, required=True)
    streams_down = fields.Integer(required=True)
    streams_dead_air = fields.Integer(required=True)
    stream_conditions = fields.List(fields.Nested(StreamConditionOut), required=True)
    plays_today = fields.Integer(required=True)
    royalties_today = fields.List(fields.Nested(MoneyOut), required=True)
    quarantined = fields.Integer(required=True)
    quarantined_24h = fields.Integer(required=True)
    queue = fields.Nested(QueueOut, required=True)
    last_verify = fields.Nested(VerifyRunOut, allow_none=True, required=True)


@blueprint.get("/admin/overview")
@policy([ADMIN, AUDITOR], scope="stations:read")
@blueprint.output(OverviewOut)
def overview() -> dict[str, Any]:
    """Stations, agents, streams down, plays and royalties today, quarantine, queue, last
    ledger check: the console's overview, from the same function."""
    queue = queues.settings_queue(current_app.config["ZAMIO"].redis_url)
    return overviews.overview(db.session, queue, utc_now())


@blueprint.get("/ledger/verify/runs")
@policy([ADMIN, AUDITOR], scope="ledger:read")
@blueprint.output(VerifyRunList)
def verify_run_list() -> dict[str, Any]:
    """The latest kept ledger checks, newest first."""
    return {"runs": [verify_runs.run_record(r) for r in verify_runs.recent_runs(db.session)]}


@blueprint.post("/ledger/verify/runs")
@policy([ADMIN], scope="admin")
@blueprint.output(VerifyRunOut, status_code=201)
def verify_run_add() -> dict[str, Any]:
    """Check the whole ledger now and keep the result (GET /ledger/verify checks without
    keeping it)."""
    run, _ = verify_runs.run_verify(db.session, current_principal().actor, "api")
    db.session.commit()
    return verify_runs.run_record(run)


@blueprint.get("/users")
@policy([ADMIN], scope="admin")
@blueprint.input(UsersQuery, location="query", arg_name="args")
@blueprint.output(UserPage)
def user_list(args: dict[str, Any]) -> dict[str, Any]:
    """Every user, by id, one page."""
    after = None
    if args.get("cursor"):
        (after,) = pagination.decode("users", args["cursor"], 1)
    rows = users.user_page(db.session, args["limit"] + 1, args.get("role"), after)
    page, next_cursor = pagination.split_page(rows, args["limit"], "users", lambda u: [u.id])
    codes = station_store.codes_by_id(db.session)
    return {"users": [users.user_record(u, codes) for u in page], "next_cursor": next_cursor}


@blueprint.post("/users")
@policy([ADMIN], scope="admin")
@idempotent
@blueprint.input(UserIn, arg_name="body")
@blueprint.output(UserOut, status_code=201)
@blueprint.doc(responses=[400, 409])
def user_add(body: dict[str, Any]) -> dict[str, Any]:
    """Add a user and mail them an invite (the outbox) to choose their password."""
    try:
        record = actions.invite_user(
            db.session, current_principal().actor, "api", body["email"], body["role"],
            body.get("stations", ()), body.get("parties", ()),
            current_app.config["ZAMIO"].public_url,
        )  # fmt: skip
    except UserError as error:
        db.session.rollback()
        raise BadRequest(str(error)) from None
    db.session.commit()
    return record


@blueprint.patch("/users/<int:user_id>")
@policy([ADMIN], scope="admin")
@blueprint.input(UserPatch, arg_name="body")
@blueprint.output(UserOut)
@blueprint.doc(responses=[400, 404])
def user_change(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Disable or enable a user (their tokens stop or start working at once), or change links."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    before = users.user_record(user, station_store.codes_by_id(db.session))
    try:
        _apply(user, body)
    except UserError as error:
        db.session.rollback()
        raise BadRequest(str(error)) from None
    db.session.flush()
    after = users.user_record(user, station_store.codes_by_id(db.session))
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        action = "user.change"
        audit.record(db.session, current_principal().actor, "api", action, "user", user.id, changes)
    db.session.commit()
    return after


def _apply(user: User, body: dict[str, Any]) -> None:
    """The changes of a UserPatch, checked against the role."""
    if "active" in body and body["active"] != user.active:
        users.set_active(user, body["active"], utc_now())
    users.link(db.session, user, body.get("add_stations", ()), body.get("add_parties", ()))
    remove_codes = body.get("remove_stations", ())
    remove_ids = [
        s.id for s in db.session.scalars(select(Station).where(Station.code.in_(remove_codes)))
    ]
    users.unlink(user, remove_ids, body.get("remove_parties", ()))
    users.check_links(user)


@blueprint.get("/audit")
@policy([ADMIN, AUDITOR], scope="audit:read")
@blueprint.input(AuditQuery, location="query", arg_name="args")
@blueprint.output(AuditPage)
def audit_list(args: dict[str, Any]) -> dict[str, Any]:
    """The audit log, oldest first, one page."""
    after = None
    if args.get("cursor"):
        (after,) = pagination.decode("audit", args["cursor"], 1)
    rows = audit.events(
        db.session,
        since=_instant(args, "since"),
        until=_instant(args, "until"),
        actor=args.get("actor"),
        action=args.get("action"),
        after_id=after,
        limit=args["limit"] + 1,
    )
    page, next_cursor = pagination.split_page(rows, args["limit"], "audit", lambda e: [e.id])
    return {"events": [audit.event_record(e) for e in page], "next_cursor": next_cursor}


@blueprint.get("/quarantine")
@policy([ADMIN, AUDITOR], scope="stations:read")
@blueprint.input(QuarantineQuery, location="query", arg_name="args")
@blueprint.output(QuarantinePage)
def quarantine_list(args: dict[str, Any]) -> dict[str, Any]:
    """Payloads ingest refused, newest first, one page."""
    before = None
    if args.get("cursor"):
        (before,) = pagination.decode("quarantine", args["cursor"], 1)
    rows = quarantine.quarantine_page(db.session, args["limit"] + 1, args.get("reason"), before)
    page, next_cursor = pagination.split_page(rows, args["limit"], "quarantine", lambda q: [q.id])
    return {"payloads": [quarantine.quarantine_record(q) for q in page], "next_cursor": next_cursor}


def _instant(args: dict[str, Any], name: str) -> Any:
    """A query's instant as a datetime, or None; 400 if unreadable."""
    if not args.get(name):
        return None
    try:
        return at_ms(parse_instant_ms(args[name], now_ms()))
    except (ValueError, OverflowError) as error:
        raise BadRequest(f"{name}: {error}") from None
