"""The audit log: every write through the API, the CLI or the console, append-only (the
database refuses UPDATE and DELETE on it, see migration 0015)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import click
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from central.auth.models import AuditEvent
from central.extensions import utc_now
from central.times import iso_datetime

VIAS = ("api", "cli", "console")
SECRET_FIELDS = frozenset({"password", "password_hash", "token", "token_hash", "secret"})


def record(
    session: Session,
    actor: str,
    via: str,
    action: str,
    object_type: str,
    object_id: object,
    changes: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit event to `session` (committed with the write it records)."""
    if via not in VIAS:
        raise ValueError(f"audit: via {via!r}: one of {', '.join(VIAS)}")
    event = AuditEvent(
        at=utc_now(),
        actor=actor[:120],
        via=via,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:200],
        changes_json=json.dumps(without_secrets(changes or {}), sort_keys=True, default=str),
    )
    session.add(event)
    return event


def without_secrets(changes: Mapping[str, Any]) -> dict[str, Any]:
    """`changes` with every secret field's values replaced by "***"."""
    return {k: "***" if k in SECRET_FIELDS else v for k, v in changes.items()}


def events(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Audit events, oldest first, after `after_id` (a cursor), filtered as given."""
    query = select(AuditEvent).order_by(AuditEvent.id).limit(limit)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if after_id is not None:
        query = query.where(AuditEvent.id > after_id)
    return list(session.scalars(query))


def event_record(event: AuditEvent) -> dict[str, Any]:
    """An audit event as JSON."""
    return {
        "id": event.id,
        "at": iso_datetime(event.at),
        "actor": event.actor,
        "via": event.via,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "changes": json.loads(event.changes_json),
    }


# Every CLI command that commits changes is audited, without code of its own: ZamioGroup.invoke
# sets the actor, and the first commit of the command with changes adds one event naming the
# command, its first argument and its parameters. Commands that record their own events (the
# accounts commands) are left as they are; long-running services are not audited per commit.
_cli_actor: ContextVar[str | None] = ContextVar("zamio_cli_actor", default=None)
_cli_audited: ContextVar[bool] = ContextVar("zamio_cli_audited", default=False)
SERVICES = frozenset({"ingest", "worker", "scheduler", "serve", "scan", "demo", "db"})
_SECRET_WORDS = ("password", "secret", "token")


@contextmanager
def cli_actor(actor: str) -> Iterator[None]:
    """Audit the commits of the CLI command run inside as `actor`."""
    actor_token, audited_token = _cli_actor.set(actor), _cli_audited.set(False)
    try:
        yield
    finally:
        _cli_actor.reset(actor_token)
        _cli_audited.reset(audited_token)


def recorded_by_command() -> None:
    """Say that the running CLI command records its own audit events (with changed fields)."""
    _cli_audited.set(True)


def command_event(ctx: click.Context, actor: str) -> AuditEvent | None:
    """The audit event of the leaf command of `ctx`, or None for a service."""
    names = ctx.command_path.split()[1:]
    if not names or names[0] in SERVICES:
        return None
    first = next((p for p in ctx.command.params if isinstance(p, click.Argument)), None)
    object_id = "" if first is None else str(ctx.params.get(first.name or "", ""))
    return AuditEvent(
        at=utc_now(),
        actor=actor[:120],
        via="cli",
        action=".".join(names)[:64],
        object_type=names[0][:32],
        object_id=object_id[:200],
        changes_json=json.dumps(_cli_params(ctx.params), sort_keys=True, default=str),
    )


def _cli_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A command's parameters fit for the log: secrets out, URL passwords hidden."""
    from central.config import redact_url

    shown: dict[str, Any] = {}
    for name, value in params.items():
        if any(word in name for word in _SECRET_WORDS) and not isinstance(value, bool):
            shown[name] = None if value is None else "***"
        elif isinstance(value, str) and "://" in value:
            shown[name] = redact_url(value)
        elif isinstance(value, tuple):
            shown[name] = [str(v) for v in value]
        else:
            shown[name] = value if isinstance(value, int | float | bool | None) else str(value)
    return shown


@event.listens_for(Session, "before_flush")
def _audit_cli_flush(session: Session, _context: object, _instances: object) -> None:
    """Within an audited CLI command: add its event to the first flush that changes rows (it
    commits or rolls back with them)."""
    actor = _cli_actor.get()
    if actor is None or _cli_audited.get():
        return
    if not (session.new or session.dirty or session.deleted):
        return
    _cli_audited.set(True)
    if any(isinstance(obj, AuditEvent) for obj in session.new):
        return  # the command records its own, with the fields it changed
    ctx = click.get_current_context(silent=True)
    found = None if ctx is None else command_event(ctx, actor)
    if found is not None:
        session.add(found)


@event.listens_for(Session, "after_rollback")
def _audit_cli_rollback(_session: Session) -> None:
    """A rolled-back write took its event with it: the next one is audited again."""
    if _cli_actor.get() is not None:
        _cli_audited.set(False)
