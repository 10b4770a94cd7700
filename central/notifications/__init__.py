"""Notifications: the in-app inbox, email (SMTP), SMS (Hubtel's API) and signed webhooks, by each
user's preferences and quiet hours, deduplicated and rate-limited, sent by RQ jobs after the
commit that made them. Producers call `notify(session, event, user_ids, subject, body, ...)` in
their own transaction; recipients come from `central.notifications.recipients`."""

from central.notifications import outbox  # noqa: F401  (sends the auth outbox's mail)
from central.notifications.notify import Message, notify, notify_each

__all__ = ["Message", "notify", "notify_each"]
