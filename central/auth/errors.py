"""Errors of people and tokens."""


class UserError(Exception):
    """A user, link or token that cannot be made or changed as asked; the message says why."""


class UnknownUser(UserError):
    """No user with that email or id."""


class BadOneTimeToken(UserError):
    """An invite or reset token that is unknown, used or expired (one message for all three)."""
