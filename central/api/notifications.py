"""Notifications of the caller: their inbox (cursor-paged, newest first; marked read one by one
or all at once), their preferences (channels per event, phone, time zone, quiet hours), and
their webhook endpoints (made with a secret shown once, listed, deleted; each one's delivery
log; a delivery replayed). Everyone's own only: another's notification, endpoint or delivery
is a 404, admins included."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema, fields, validators
from flask import current_app
from werkzeug.exceptions import BadRequest, Conflict, NotFound

from central.api import pagination
from central.api.idempotency import idempotent
from central.api.schemas import Strict, cursor_field, limit_field
from central.auth.policy import current_principal, policy
from central.auth.roles import ROLES
from central.extensions import db, utc_now
from central.notifications import actions, inbox, preferences, webhooks
from central.notifications.errors import NotificationError
from central.notifications.events import ALL_EVENTS, EVENTS, PERSONAL_CHANNELS
from central.notifications.models import URL_CHARS_MAX, Notification, WebhookEndpoint

blueprint = APIBlueprint("notifications", __name__, url_prefix="/api/v1", tag="Notifications")
PAGE_DEFAULT = 50
READ, WRITE = "notifications:read", "notifications:write"


class InboxQuery(Strict):
    """unread (only those not read yet), limit, cursor."""

    unread = fields.Boolean(load_default=False)
    limit = limit_field(PAGE_DEFAULT, inbox.PAGE_MAX)
    cursor = cursor_field()


class NotificationOut(Schema):
    """One notification, as the inbox shows it."""

    id = fields.Integer(required=True)
    event = fields.String(required=True)
    subject = fields.String(required=True)
    body = fields.String(required=True)
    data = fields.Dict(required=True)
    link = fields.String(allow_none=True, required=True)
    created_at = fields.String(required=True)
    read_at = fields.String(allow_none=True, required=True)
    read = fields.Boolean(required=True)


class InboxPage(Schema):
    """A page of the caller's notifications, newest first, and how many are unread."""

    notifications = fields.List(fields.Nested(NotificationOut), required=True)
    unread = fields.Integer(required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class MarkedOut(Schema):
    """How many notifications were marked read."""

    marked = fields.Integer(required=True)


class QuietHours(Schema):
    """Quiet hours, local to the time zone: mail and SMS wait for their end."""

    start = fields.String(required=True, metadata={"description": "HH:MM", "example": "22:00"})
    end = fields.String(required=True, metadata={"description": "HH:MM", "example": "07:00"})


class PreferencesIn(Schema):
    """The whole of the preferences: events not named keep their default (email)."""

    events = fields.Dict(
        keys=fields.String(validate=validators.OneOf(sorted(EVENTS))),
        values=fields.List(fields.String(validate=validators.OneOf(PERSONAL_CHANNELS))),
        load_default=dict,
        metadata={"description": "event -> channels (email, sms); [] for the inbox only"},
    )
    phone = fields.String(
        allow_none=True, load_default=None, validate=validators.Length(1, 32),
        metadata={"description": "for SMS, international (+233241234567) or 0241234567"},
    )  # fmt: skip
    timezone = fields.String(
        allow_none=True, load_default=None, validate=validators.Length(1, 64),
        metadata={"description": "IANA zone; null: your station's, else Africa/Accra"},
    )  # fmt: skip
    quiet_hours = fields.Nested(QuietHours, allow_none=True, load_default=None)


class PreferencesOut(Schema):
    """The caller's preferences, every event named."""

    events = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)
    phone = fields.String(allow_none=True, required=True)
    timezone = fields.String(required=True)
    timezone_chosen = fields.Boolean(required=True)
    quiet_hours = fields.Nested(QuietHours, allow_none=True, required=True)


class WebhookIn(Schema):
    """An endpoint to make: its https URL, the events it gets (["*"]: all), a description."""

    url = fields.String(required=True, validate=validators.Length(8, URL_CHARS_MAX))
    events = fields.List(
        fields.String(validate=validators.OneOf([ALL_EVENTS, *sorted(EVENTS)])),
        required=True,
        validate=validators.Length(1, len(EVENTS)),
    )
    description = fields.String(validate=validators.Length(1, 200))


class WebhookOut(Schema):
    """An endpoint: never its secret, only its last characters."""

    id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    events = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
    secret_hint = fields.String(required=True)
    created_at = fields.String(required=True)
    deleted_at = fields.String(allow_none=True, required=True)


class NewWebhookOut(WebhookOut):
    """A new endpoint: `secret` (whsec_...) signs its POSTs and is shown this once."""

    secret = fields.String(required=True)


class WebhookList(Schema):
    """The caller's endpoints, oldest first."""

    webhooks = fields.List(fields.Nested(WebhookOut), required=True)


class AttemptOut(Schema):
    """One HTTP attempt: when, the status (null: no answer), the error, the answer's start."""

    attempt = fields.Integer(required=True)
    at = fields.String(required=True)
    status_code = fields.Integer(allow_none=True, required=True)
    duration_ms = fields.Integer(required=True)
    error = fields.String(allow_none=True, required=True)
    response = fields.String(allow_none=True, required=True)


class DeliveryOut(Schema):
    """A delivery to an endpoint and its attempts."""

    id = fields.Integer(required=True)
    notification_id = fields.Integer(required=True)
    event = fields.String(required=True)
    channel = fields.String(required=True)
    endpoint_id = fields.Integer(allow_none=True, required=True)
    state = fields.String(required=True)
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.String(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    sent_at = fields.String(allow_none=True, required=True)
    created_at = fields.String(required=True)
    replay_of = fields.Integer(allow_none=True, required=True)
    log = fields.List(fields.Nested(AttemptOut), required=True)


class DeliveryPage(Schema):
    """A page of an endpoint's deliveries, newest first."""

    deliveries = fields.List(fields.Nested(DeliveryOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class LogQuery(Strict):
    """limit, cursor."""

    limit = limit_field(PAGE_DEFAULT, webhooks.LOG_PAGE_MAX)
    cursor = cursor_field()


@blueprint.get("/notifications")
@policy(ROLES, scope=READ)
@blueprint.input(InboxQuery, location="query", arg_name="args")
@blueprint.output(InboxPage)
def inbox_list(args: dict[str, Any]) -> dict[str, Any]:
    """Your notifications, newest first (only unread ones with ?unread=true)."""
    user_id = _user_id()
    before = None
    if args.get("cursor"):
        (before,) = pagination.decode("inbox", args["cursor"], 1)
    rows = inbox.inbox_page(db.session, user_id, args["limit"] + 1, before, args["unread"])
    page, next_cursor = pagination.split_page(rows, args["limit"], "inbox", lambda n: [n.id])
    return {
        "notifications": [inbox.notification_record(n) for n in page],
        "unread": inbox.unread_count(db.session, user_id),
        "next_cursor": next_cursor,
    }


@blueprint.post("/notifications/<int:notification_id>/read")
@policy(ROLES, scope=WRITE, owner="notification")
@blueprint.output(NotificationOut)
@blueprint.doc(responses=[404])
def inbox_read(notification_id: int) -> dict[str, Any]:
    """Mark one of your notifications read (again: no change)."""
    row = inbox.find_notification(db.session, notification_id, _user_id())
    if row is None:
        raise NotFound(f"no notification {notification_id}")
    if inbox.mark_read(row, utc_now()):
        db.session.commit()
    return inbox.notification_record(row)


@blueprint.post("/notifications/read")
@policy(ROLES, scope=WRITE)
@blueprint.output(MarkedOut)
def inbox_read_all() -> dict[str, Any]:
    """Mark every one of your notifications read."""
    marked = inbox.mark_all_read(db.session, _user_id(), utc_now())
    db.session.commit()
    return {"marked": marked}


@blueprint.get("/notifications/preferences")
@policy(ROLES, scope=READ)
@blueprint.output(PreferencesOut)
def preferences_get() -> dict[str, Any]:
    """Your preferences: each event's channels, your phone, time zone and quiet hours."""
    return preferences.preference_record(db.session, _user_id())


@blueprint.put("/notifications/preferences")
@policy(ROLES, scope=WRITE)
@blueprint.input(PreferencesIn, arg_name="body")
@blueprint.output(PreferencesOut)
@blueprint.doc(responses=[400])
def preferences_put(body: dict[str, Any]) -> dict[str, Any]:
    """Replace your preferences (audited)."""
    try:
        record = actions.save_preferences(
            db.session, current_principal().actor, "api", _user_id(), body["events"],
            body["phone"], body["timezone"], body["quiet_hours"],
        )  # fmt: skip
    except NotificationError as error:
        db.session.rollback()
        raise BadRequest(str(error)) from None
    db.session.commit()
    return record


@blueprint.get("/webhooks")
@policy(ROLES, scope=READ)
@blueprint.output(WebhookList)
def webhook_list() -> dict[str, Any]:
    """Your webhook endpoints (not deleted), oldest first."""
    rows = webhooks.user_endpoints(db.session, _user_id())
    return {"webhooks": [webhooks.endpoint_record(r) for r in rows]}


@blueprint.post("/webhooks")
@policy(ROLES, scope=WRITE)
@idempotent
@blueprint.input(WebhookIn, arg_name="body")
@blueprint.output(NewWebhookOut, status_code=201)
@blueprint.doc(responses=[400, 409])
def webhook_create(body: dict[str, Any]) -> dict[str, Any]:
    """Make an endpoint: its signing secret is in this response only (audited)."""
    settings = current_app.config["ZAMIO"]
    try:
        row, secret = actions.add_webhook(
            db.session, current_principal().actor, "api", _user_id(), body["url"],
            body["events"], body.get("description"), settings.webhook_allow_private,
            current_app.config["SECRET_KEY"].encode(),
        )  # fmt: skip
    except NotificationError as error:
        db.session.rollback()
        raise BadRequest(str(error)) from None
    db.session.commit()
    return {**webhooks.endpoint_record(row), "secret": secret}


@blueprint.get("/webhooks/<int:webhook_id>")
@policy(ROLES, scope=READ, owner="webhook")
@blueprint.output(WebhookOut)
@blueprint.doc(responses=[404])
def webhook_get(webhook_id: int) -> dict[str, Any]:
    """One of your endpoints (a deleted one too, with deleted_at)."""
    return webhooks.endpoint_record(_endpoint(webhook_id))


@blueprint.delete("/webhooks/<int:webhook_id>")
@policy(ROLES, scope=WRITE, owner="webhook")
@blueprint.output({}, status_code=204)
@blueprint.doc(responses=[404])
def webhook_delete(webhook_id: int) -> tuple[str, int]:
    """Delete one of your endpoints: nothing more is sent to it; its log stays (audited)."""
    if actions.delete_webhook(db.session, current_principal().actor, "api", _endpoint(webhook_id)):
        db.session.commit()
    return "", 204


@blueprint.get("/webhooks/<int:webhook_id>/deliveries")
@policy(ROLES, scope=READ, owner="webhook")
@blueprint.input(LogQuery, location="query", arg_name="args")
@blueprint.output(DeliveryPage)
@blueprint.doc(responses=[404])
def webhook_deliveries(webhook_id: int, args: dict[str, Any]) -> dict[str, Any]:
    """One of your endpoints' deliveries, newest first, each with every attempt."""
    endpoint = _endpoint(webhook_id)
    before = None
    if args.get("cursor"):
        (before,) = pagination.decode("webhook-log", args["cursor"], 1)
    rows = webhooks.delivery_log(db.session, endpoint.id, args["limit"] + 1, before)
    page, next_cursor = pagination.split_page(rows, args["limit"], "webhook-log",
                                              lambda d: [d["id"]])  # fmt: skip
    return {"deliveries": page, "next_cursor": next_cursor}


@blueprint.post("/webhook-deliveries/<int:delivery_id>/replay")
@policy(ROLES, scope=WRITE, owner="webhook_delivery")
@blueprint.output(DeliveryOut, status_code=202)
@blueprint.doc(responses=[404, 409])
def webhook_replay(delivery_id: int) -> dict[str, Any]:
    """Send one of your webhook deliveries again, as a new delivery of the same notification
    (sent at once, after this request commits; audited). 409 if its endpoint is deleted."""
    delivery = webhooks.webhook_delivery(db.session, delivery_id, _user_id())
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    try:
        again = actions.replay_delivery(db.session, current_principal().actor, "api", delivery)
    except NotificationError as error:
        db.session.rollback()
        raise Conflict(str(error)) from None
    event = _event_of(again.notification_id)
    db.session.commit()
    db.session.refresh(again)
    return webhooks.delivery_record(again, event)


def _user_id() -> int:
    """The caller's user id; the bootstrap token has none (404: it has no notifications)."""
    user_id = current_principal().user_id
    if user_id is None:
        raise NotFound("the bootstrap token has no user: notifications are a user's")
    return user_id


def _endpoint(webhook_id: int) -> WebhookEndpoint:
    """The caller's endpoint, or 404."""
    row = webhooks.find_endpoint(db.session, webhook_id, _user_id())
    if row is None:
        raise NotFound(f"no webhook {webhook_id}")
    return row


def _event_of(notification_id: int) -> str:
    """The event of a notification."""
    row = db.session.get(Notification, notification_id)
    assert row is not None, notification_id
    return row.event
