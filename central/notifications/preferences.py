"""Users' notification preferences: loaded for many users at once (with each one's time zone:
their own, else their station's, else Africa/Accra), shown, and saved after checking."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.auth.models import UserStation
from central.notifications.errors import PreferenceError
from central.notifications.events import DEFAULT_CHANNELS, EVENTS, PERSONAL_CHANNELS
from central.notifications.models import NotificationPreference
from central.notifications.plan import DEFAULT_TIMEZONE, Preference, format_clock, parse_clock
from central.stations.models import Station

IN_CLAUSE_MAX = 500  # ids per IN (...) query, well under SQLite's bound-parameter limit


def normalize_phone(text: str) -> str:
    """An E.164 number from `text`, by the payouts' MSISDN rule (central/payouts/msisdn.py:
    separators ignored, a Ghanaian 0XXXXXXXXX is +233XXXXXXXXX); PreferenceError if it is none."""
    from central.payouts.msisdn import InvalidMsisdn, normalize_msisdn

    try:
        return "+" + normalize_msisdn(text)
    except InvalidMsisdn as error:
        raise PreferenceError(f"phone: {error}; e.g. +233241234567") from None


def check_timezone(name: str) -> str:
    """`name` if it is an IANA time zone (Africa/Accra), else PreferenceError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PreferenceError(f"timezone {name[:64]!r}: an IANA zone, e.g. Africa/Accra") from None
    return name


def chunks(ids: Iterable[int], size: int = IN_CLAUSE_MAX) -> Iterable[list[int]]:
    """`ids` in lists of at most `size`."""
    batch: list[int] = []
    for value in ids:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_preferences(session: Session, user_ids: Iterable[int]) -> dict[int, Preference]:
    """Each user's Preference (defaults where they saved none)."""
    ids = sorted(set(user_ids))
    saved: dict[int, NotificationPreference] = {}
    zones: dict[int, str] = {}
    for batch in chunks(ids):
        query = select(NotificationPreference).where(NotificationPreference.user_id.in_(batch))
        saved.update((row.user_id, row) for row in session.scalars(query))
        stations = (
            select(UserStation.user_id, Station.timezone)
            .join(Station, Station.id == UserStation.station_id)
            .where(UserStation.user_id.in_(batch))
            .order_by(UserStation.user_id, Station.id)
        )
        for user_id, zone in session.execute(stations):
            zones.setdefault(user_id, zone)
    return {u: preference_of(saved.get(u), zones.get(u)) for u in ids}


def preference_of(row: NotificationPreference | None, station_zone: str | None) -> Preference:
    """The Preference a stored row (or none) stands for."""
    zone = station_zone or DEFAULT_TIMEZONE
    if row is None:
        return Preference(timezone=zone)
    chosen = {e: frozenset(c) for e, c in json.loads(row.channels_json or "{}").items()}
    return Preference(
        channels={**DEFAULT_CHANNELS, **chosen},
        phone=row.phone,
        timezone=row.timezone or zone,
        quiet_start_min=row.quiet_start_min,
        quiet_end_min=row.quiet_end_min,
    )


def preference_record(session: Session, user_id: int) -> dict[str, Any]:
    """A user's preferences as JSON: every event's channels, phone, zone, quiet hours."""
    preference = load_preferences(session, [user_id])[user_id]
    row = session.get(NotificationPreference, user_id)
    quiet = None
    if preference.quiet_start_min is not None and preference.quiet_end_min is not None:
        quiet = {
            "start": format_clock(preference.quiet_start_min),
            "end": format_clock(preference.quiet_end_min),
        }
    return {
        "events": {e: sorted(preference.channels_of(e)) for e in EVENTS},
        "phone": preference.phone,
        "timezone": preference.timezone,
        "timezone_chosen": row is not None and row.timezone is not None,
        "quiet_hours": quiet,
    }


def save_preferences(
    session: Session,
    user_id: int,
    events: Mapping[str, Iterable[str]] | None,
    phone: str | None,
    timezone: str | None,
    quiet_hours: Mapping[str, str] | None,
    now: datetime,
) -> dict[str, Any]:
    """Replace a user's preferences (events not named keep their defaults; None phone, zone
    or quiet hours: none, the station's zone, none); the changes, for the audit log. The
    caller commits."""
    channels = _check_events(events or {})
    number = normalize_phone(phone) if phone else None
    zone = check_timezone(timezone) if timezone else None
    start, end = _check_quiet(quiet_hours)
    if any("sms" in c for c in channels.values()) and number is None:
        raise PreferenceError("SMS needs a phone number")
    row = session.get(NotificationPreference, user_id)
    if row is None:
        row = NotificationPreference(user_id=user_id)
        session.add(row)
    row.channels_json = json.dumps(channels, sort_keys=True)
    row.phone, row.timezone = number, zone
    row.quiet_start_min, row.quiet_end_min = start, end
    row.updated_at = now
    session.flush()
    quiet = None if start is None else [format_clock(start), format_clock(end)]
    return {"events": channels, "phone": "set" if number else None, "timezone": zone,
            "quiet_hours": quiet}  # fmt: skip


def _check_events(events: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """`events` as {event: sorted channels}; PreferenceError for unknown ones."""
    checked = {}
    for event, channels in events.items():
        if event not in EVENTS:
            raise PreferenceError(f"event {event[:64]!r}: one of {', '.join(EVENTS)}")
        chosen = sorted(set(channels))
        unknown = [c for c in chosen if c not in PERSONAL_CHANNELS]
        if unknown:
            raise PreferenceError(
                f"{event}: channel {unknown[0][:20]!r} is not one of {', '.join(PERSONAL_CHANNELS)}"
                " (webhooks are chosen on the endpoint)"
            )
        checked[event] = chosen
    return checked


def _check_quiet(quiet_hours: Mapping[str, str] | None) -> tuple[int | None, int | None]:
    """Quiet hours {start, end} (HH:MM) as minutes, or (None, None)."""
    if not quiet_hours:
        return None, None
    try:
        start = parse_clock(str(quiet_hours.get("start", "")))
        end = parse_clock(str(quiet_hours.get("end", "")))
    except ValueError as error:
        raise PreferenceError(f"quiet hours: {error}") from None
    if start == end:
        raise PreferenceError("quiet hours: the start and the end are the same time")
    return start, end
