"""Every role's notifications in the console: the inbox (marked read one by one or all), the
preferences form (channels per event, phone, time zone, quiet hours) and webhook endpoints
(made with the secret shown once, deleted; each one's delivery log with a replay button). Thin
over central/notifications, with the API's policies: another user's object is a 404."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from central.auth.policy import current_principal, policy
from central.auth.roles import ROLES
from central.extensions import db, utc_now
from central.notifications import actions, inbox, preferences, webhooks
from central.notifications.errors import NotificationError
from central.notifications.events import ALL_EVENTS, EVENTS, PERSONAL_CHANNELS
from central.notifications.models import WebhookEndpoint

blueprint = Blueprint("notifications_console", __name__, url_prefix="/notifications")
PAGE = 50
READ, WRITE = "notifications:read", "notifications:write"
VIA = "console"
TEXT_CHARS_MAX = 2000


@blueprint.app_context_processor
def _unread() -> dict[str, Any]:
    """The signed-in user's unread count, for the layout's nav (one indexed count a page)."""
    principal = _principal_or_none()
    if principal is None or principal.user_id is None:
        return {"inbox_unread": 0}
    return {"inbox_unread": inbox.unread_count(db.session, principal.user_id)}


def _principal_or_none() -> Any:
    """This request's principal, when a console page set one."""
    from flask import g

    return g.get("zamio_principal")


@blueprint.get("")
@policy(ROLES, scope=READ)
def inbox_page() -> ResponseReturnValue:
    """Your notifications, newest first, a page at a time (?before=<id>; ?unread=1)."""
    user_id = _user_id()
    before = _int_arg("before")
    unread_only = request.args.get("unread") == "1"
    rows = inbox.inbox_page(db.session, user_id, PAGE + 1, before, unread_only)
    page = [inbox.notification_record(n) for n in rows[:PAGE]]
    next_url = None
    if len(rows) > PAGE:
        next_url = url_for(
            ".inbox_page", before=page[-1]["id"], unread="1" if unread_only else None
        )
    return render_template(
        "notifications/inbox.html", notifications=page, next_url=next_url,
        unread_only=unread_only, unread=inbox.unread_count(db.session, user_id),
        message=request.args.get("done"),
    )  # fmt: skip


@blueprint.post("/<int:notification_id>/read")
@policy(ROLES, scope=WRITE, owner="notification")
def read_one(notification_id: int) -> ResponseReturnValue:
    """Mark one of your notifications read."""
    row = inbox.find_notification(db.session, notification_id, _user_id())
    if row is None:
        raise NotFound(f"no notification {notification_id}")
    if inbox.mark_read(row, utc_now()):
        db.session.commit()
    return redirect(url_for(".inbox_page"), 303)


@blueprint.post("/read")
@policy(ROLES, scope=WRITE)
def read_all() -> ResponseReturnValue:
    """Mark every one of your notifications read."""
    marked = inbox.mark_all_read(db.session, _user_id(), utc_now())
    db.session.commit()
    return redirect(url_for(".inbox_page", done=f"{marked} marked read."), 303)


@blueprint.route("/preferences", methods=["GET", "POST"])
@policy(ROLES, scope=WRITE)
def preferences_page() -> ResponseReturnValue:
    """What you are sent, by which channel, and when not (the form saves them all)."""
    user_id = _user_id()
    message, error = None, None
    if request.method == "POST":
        form = request.form
        events = {e: [c for c in PERSONAL_CHANNELS if form.get(f"{e}:{c}")] for e in EVENTS}
        quiet = None
        if form.get("quiet_start") or form.get("quiet_end"):
            quiet = {"start": form.get("quiet_start", ""), "end": form.get("quiet_end", "")}
        try:
            actions.save_preferences(
                db.session, current_principal().actor, VIA, user_id, events,
                _text("phone"), _text("timezone"), quiet,
            )  # fmt: skip
        except NotificationError as problem:
            db.session.rollback()
            error = str(problem)
        else:
            db.session.commit()
            message = "Preferences saved."
    record = preferences.preference_record(db.session, user_id)
    page = render_template(
        "notifications/preferences.html", prefs=record, events=EVENTS,
        channels=PERSONAL_CHANNELS, message=message, error=error,
    )  # fmt: skip
    return page, (400 if error else 200)


@blueprint.get("/webhooks")
@policy(ROLES, scope=READ)
def webhooks_page() -> ResponseReturnValue:
    """Your webhook endpoints and the form to add one."""
    return _webhooks_page(message=request.args.get("done"))


def _webhooks_page(
    message: str | None = None,
    error: str | None = None,
    secret: str | None = None,
    form: dict[str, Any] | None = None,
) -> ResponseReturnValue:
    """The webhooks page (with a new endpoint's secret, shown this once, or the form's error)."""
    rows = webhooks.user_endpoints(db.session, _user_id())
    page = render_template(
        "notifications/webhooks.html", endpoints=[webhooks.endpoint_record(r) for r in rows],
        events=EVENTS, all_events=ALL_EVENTS, message=message, error=error, secret=secret,
        form=form or {},
    )  # fmt: skip
    return page, (400 if error else 200)


@blueprint.post("/webhooks")
@policy(ROLES, scope=WRITE)
def webhook_add() -> ResponseReturnValue:
    """Add an endpoint; its signing secret is on the page that answers, and nowhere else."""
    chosen = request.form.getlist("events") or [ALL_EVENTS]
    form = {"url": _text("url") or "", "description": _text("description"), "events": chosen}
    try:
        row, secret = actions.add_webhook(
            db.session, current_principal().actor, VIA, _user_id(), form["url"], chosen,
            form["description"], current_app.config["ZAMIO"].webhook_allow_private,
            current_app.config["SECRET_KEY"].encode(),
        )  # fmt: skip
    except NotificationError as problem:
        db.session.rollback()
        return _webhooks_page(error=str(problem), form=form)
    db.session.commit()
    return _webhooks_page(message=f"Endpoint {row.id} added: {row.url}", secret=secret)


@blueprint.post("/webhooks/<int:webhook_id>/delete")
@policy(ROLES, scope=WRITE, owner="webhook")
def webhook_delete(webhook_id: int) -> ResponseReturnValue:
    """Delete one of your endpoints (its log stays)."""
    row = _endpoint(webhook_id)
    if actions.delete_webhook(db.session, current_principal().actor, VIA, row):
        db.session.commit()
    return redirect(url_for(".webhooks_page", done=f"Endpoint {webhook_id} deleted."), 303)


@blueprint.get("/webhooks/<int:webhook_id>")
@policy(ROLES, scope=READ, owner="webhook")
def webhook_page(webhook_id: int) -> ResponseReturnValue:
    """One of your endpoints and its deliveries, newest first, each attempt shown."""
    row = _endpoint(webhook_id)
    before = _int_arg("before")
    log = webhooks.delivery_log(db.session, row.id, PAGE + 1, before)
    next_url = None
    if len(log) > PAGE:
        next_url = url_for(".webhook_page", webhook_id=row.id, before=log[PAGE - 1]["id"])
    return render_template(
        "notifications/webhook.html", endpoint=webhooks.endpoint_record(row),
        deliveries=log[:PAGE], next_url=next_url, message=request.args.get("done"),
        error=request.args.get("problem"),
    )  # fmt: skip


@blueprint.post("/webhook-deliveries/<int:delivery_id>/replay")
@policy(ROLES, scope=WRITE, owner="webhook_delivery")
def webhook_replay(delivery_id: int) -> ResponseReturnValue:
    """Send one of your webhook deliveries again (a new delivery), then show the log."""
    delivery = webhooks.webhook_delivery(db.session, delivery_id, _user_id())
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    endpoint_id = delivery.endpoint_id
    try:
        again = actions.replay_delivery(db.session, current_principal().actor, VIA, delivery)
    except NotificationError as problem:
        db.session.rollback()
        return redirect(url_for(".webhook_page", webhook_id=endpoint_id, problem=str(problem)), 303)
    again_id = again.id
    db.session.commit()
    done = f"Delivery {delivery_id} replayed as delivery {again_id}."
    return redirect(url_for(".webhook_page", webhook_id=endpoint_id, done=done), 303)


def _user_id() -> int:
    """The signed-in user's id (console principals always have one)."""
    user_id = current_principal().user_id
    assert user_id is not None, "a console session is a user's"
    return user_id


def _endpoint(webhook_id: int) -> WebhookEndpoint:
    """The signed-in user's endpoint, or 404."""
    row = webhooks.find_endpoint(db.session, webhook_id, _user_id())
    if row is None:
        raise NotFound(f"no webhook {webhook_id}")
    return row


def _int_arg(name: str) -> int | None:
    """A whole-number query argument, or None (anything else: none)."""
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 12 else None


def _text(name: str) -> str | None:
    """A form field, trimmed and bounded; None when empty."""
    value = request.form.get(name, "").strip()[:TEXT_CHARS_MAX]
    return value or None
