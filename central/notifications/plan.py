"""Which deliveries a notification gets, and when (pure: times are passed in, no I/O).

For each user: every channel their preferences name for the event (email, SMS), plus one
delivery per active webhook endpoint of theirs subscribed to it. Then, per channel:

- rate limit: more than `per_hour_max` email or SMS deliveries planned for a user within the
  rolling hour are dropped, with the reason (the inbox still has every notification, so nothing
  is lost; a digest is the remedy for a noisy event, not a later burst). Webhooks are not
  limited: an integrator's system wants every event.
- quiet hours: email and SMS planned inside the user's quiet hours (in their time zone) wait
  for the end of them. Webhooks are never deferred (a machine does not sleep), nor is the inbox.
- SMS without a phone number is dropped, saying so.

Retries: a failed attempt is tried again after retry_base_s, doubling each time (capped at
RETRY_DELAY_S_MAX), until attempts_max attempts; then the delivery is dead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from central.notifications.events import DEFAULT_CHANNELS, PERSONAL_CHANNELS, SMS, WEBHOOK

DEFAULT_TIMEZONE = "Africa/Accra"
RETRY_DELAY_S_MAX = 6 * 3600


@dataclass(frozen=True)
class Preference:
    """What a user chose (or the defaults): channels per event, phone, zone, quiet hours."""

    channels: Mapping[str, frozenset[str]] = field(default_factory=lambda: DEFAULT_CHANNELS)
    phone: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    quiet_start_min: int | None = None  # minutes after local midnight; None: no quiet hours
    quiet_end_min: int | None = None

    def channels_of(self, event: str) -> frozenset[str]:
        """The personal channels the user gets `event` by."""
        return self.channels.get(event, DEFAULT_CHANNELS.get(event, frozenset()))


@dataclass(frozen=True)
class Limits:
    """Per user and channel, deliveries per rolling hour (None: unlimited)."""

    per_hour_max: Mapping[str, int | None]


@dataclass(frozen=True)
class Planned:
    """One delivery to make: queued (due at next_attempt_at) or dropped (reason)."""

    user_id: int
    channel: str
    endpoint_id: int | None
    state: str  # queued | dropped
    next_attempt_at: datetime | None
    reason: str | None = None


def quiet_until(preference: Preference, now: datetime) -> datetime | None:
    """The end (UTC) of the quiet hours `now` falls in, or None when it is not quiet."""
    start, end = preference.quiet_start_min, preference.quiet_end_min
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(preference.timezone)
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    quiet = start <= minute < end if start < end else (minute >= start or minute < end)
    if not quiet:
        return None
    day = local.date() if minute < end else local.date() + timedelta(days=1)
    ends = datetime.combine(day, time(end // 60, end % 60), tzinfo=zone)
    return ends.astimezone(UTC)


def plan_user(
    user_id: int,
    event: str,
    preference: Preference,
    endpoint_ids: Iterable[int],
    planned_last_hour: Mapping[str, int],
    limits: Limits,
    now: datetime,
) -> list[Planned]:
    """The deliveries of one user's notification of `event` at `now`, given how many of each
    channel were planned for them in the last hour (dropped ones not counted)."""
    plans = []
    quiet = quiet_until(preference, now)
    for channel in PERSONAL_CHANNELS:
        if channel not in preference.channels_of(event):
            continue
        reason = _drop_reason(channel, preference, planned_last_hour.get(channel, 0), limits)
        if reason is not None:
            plans.append(Planned(user_id, channel, None, "dropped", None, reason))
        else:
            plans.append(Planned(user_id, channel, None, "queued", quiet or now))
    for endpoint_id in sorted(endpoint_ids):
        plans.append(Planned(user_id, WEBHOOK, endpoint_id, "queued", now))
    return plans


def _drop_reason(channel: str, preference: Preference, planned: int, limits: Limits) -> str | None:
    """Why a delivery by `channel` is not made, or None."""
    if channel == SMS and not preference.phone:
        return "no phone number in the preferences"
    limit = limits.per_hour_max.get(channel)
    if limit is not None and planned >= limit:
        return f"rate limit: at most {limit} {channel} an hour"
    return None


def retry_at(attempts: int, now: datetime, retry_base_s: int, attempts_max: int) -> datetime | None:
    """When to try again after `attempts` failed attempts, or None: no more tries (dead)."""
    if attempts >= attempts_max:
        return None
    delay_s = min(retry_base_s * 2 ** max(0, attempts - 1), RETRY_DELAY_S_MAX)
    return now + timedelta(seconds=delay_s)


def parse_clock(text: str) -> int:
    """'22:00' as minutes after midnight (1320); ValueError if it is no HH:MM."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        raise ValueError(f"{text[:20]!r}: a time of day as HH:MM, e.g. 22:00")
    value = int(hours) * 60 + int(minutes)
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"{text[:20]!r}: a time of day from 00:00 to 23:59")
    return value


def format_clock(minutes: int | None) -> str | None:
    """Minutes after midnight as HH:MM (None stays None)."""
    return None if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"
