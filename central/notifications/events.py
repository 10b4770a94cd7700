"""The events people are told about, the channels that carry them, and what each new user gets
by default (pure: no I/O).

Every notification lands in the user's in-app inbox. Besides, each event goes by the channels
the user's preferences name for it (email, SMS) and to every active webhook endpoint of the
user's that subscribes to it; webhooks follow the endpoint's subscription, not the preferences.
"""

from __future__ import annotations

EMAIL, SMS, WEBHOOK = "email", "sms", "webhook"
CHANNELS = (EMAIL, SMS, WEBHOOK)
PERSONAL_CHANNELS = (EMAIL, SMS)  # chosen per event in the preferences
ALL_EVENTS = "*"  # a webhook endpoint subscribed to this gets every event

EVENTS: dict[str, str] = {
    "plays.digest": "new plays of your tracks, once a day",
    "payout.requested": "a withdrawal was requested",
    "payout.approved": "a withdrawal was approved",
    "payout.paid": "a withdrawal was paid",
    "payout.failed": "a withdrawal failed and its money is back",
    "payout.rejected": "a withdrawal was rejected",
    "funding.topup": "a station's wallet was topped up",
    "funding.invoice": "a station was invoiced",
    "dispute.opened": "a dispute was opened",
    "dispute.changed": "a dispute changed",
    "device.offline": "a station's device went offline",
    "stream.down": "a station's stream is down",
    "stream.dead_air": "a station's stream is silent (dead air)",
    "upload.registered": "an upload was registered as a track",
    "upload.review": "an upload waits for (or got) an operator's review",
}

# What a user with no saved preferences gets, besides the inbox: email for everything. SMS
# costs money and needs a number, so it is never on until the user chooses it.
DEFAULT_CHANNELS: dict[str, frozenset[str]] = {event: frozenset({EMAIL}) for event in EVENTS}


def check_event(event: str) -> None:
    """ValueError for an event name that is not one of EVENTS (a programmer's error)."""
    if event not in EVENTS:
        raise ValueError(f"notify: unknown event {event!r} (known: {', '.join(EVENTS)})")
