"""Errors of the notifications package: what a caller sent cannot be used (the API's 400)."""

from __future__ import annotations


class NotificationError(ValueError):
    """A request about notifications that cannot be done as asked; the message says why."""


class PreferenceError(NotificationError):
    """Preferences that cannot be saved: an unknown event or channel, a bad number or zone."""


class WebhookError(NotificationError):
    """A webhook endpoint that cannot be made, or a delivery that cannot be replayed."""
