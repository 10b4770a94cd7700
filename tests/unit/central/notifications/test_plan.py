"""The pure core of notifications: quiet hours (across midnight, in the user's zone), which
deliveries a notification gets (preferences, phone, rate limit, webhooks never deferred), the
retry backoff, webhook signatures and secrets, and the SMTP settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from central.config import load_settings
from central.errors import ConfigError
from central.notifications import mailer, signing
from central.notifications.plan import (
    Limits,
    Preference,
    parse_clock,
    plan_user,
    quiet_until,
    retry_at,
)

NIGHT = Preference(quiet_start_min=22 * 60, quiet_end_min=7 * 60)  # Africa/Accra: UTC
LIMITS = Limits({"email": 2, "sms": 1})


def at(hour: int, minute: int = 0, day: int = 3) -> datetime:
    """2026-12-<day> hour:minute UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_quiet_hours_across_midnight_end_at_the_next_morning() -> None:
    """22:00-07:00: 23:30 waits for 07:00 the next day, 03:00 for 07:00 that day; 07:00 and
    12:00 are not quiet; no quiet hours, or start == end, is never quiet."""
    assert quiet_until(NIGHT, at(23, 30)) == at(7, 0, day=4)
    assert quiet_until(NIGHT, at(3)) == at(7)
    assert quiet_until(NIGHT, at(7)) is None and quiet_until(NIGHT, at(12)) is None
    assert quiet_until(Preference(), at(23)) is None
    assert quiet_until(Preference(quiet_start_min=60, quiet_end_min=60), at(1)) is None


def test_quiet_hours_are_local_to_the_users_zone() -> None:
    """Quiet 13:00-14:00 in Africa/Lagos (UTC+1) is 12:00-13:00 UTC; a daytime window."""
    lagos = Preference(timezone="Africa/Lagos", quiet_start_min=13 * 60, quiet_end_min=14 * 60)
    assert quiet_until(lagos, at(12, 15)) == at(13)
    assert quiet_until(lagos, at(13, 15)) is None


def test_a_plan_follows_preferences_limits_and_quiet_hours() -> None:
    """Email and SMS as chosen (SMS dropped without a phone, or past its limit), deferred in
    quiet hours; webhooks to each endpoint at once, whatever the hour and the limits."""
    prefs = Preference(channels={"stream.down": frozenset({"email", "sms"})}, phone="+233241234567",
                       quiet_start_min=22 * 60, quiet_end_min=7 * 60)  # fmt: skip
    plans = plan_user(7, "stream.down", prefs, [5, 3], {"email": 0, "sms": 0}, LIMITS, at(23))
    assert [(p.channel, p.endpoint_id, p.state, p.next_attempt_at) for p in plans] == [
        ("email", None, "queued", at(7, day=4)),
        ("sms", None, "queued", at(7, day=4)),
        ("webhook", 3, "queued", at(23)),
        ("webhook", 5, "queued", at(23)),
    ]
    limited = plan_user(7, "stream.down", prefs, [3], {"email": 2, "sms": 1}, LIMITS, at(12))
    assert [(p.channel, p.state, p.reason) for p in limited] == [
        ("email", "dropped", "rate limit: at most 2 email an hour"),
        ("sms", "dropped", "rate limit: at most 1 sms an hour"),
        ("webhook", "queued", None),
    ]
    no_phone = plan_user(7, "stream.down", Preference(channels=prefs.channels), [], {}, LIMITS,
                         at(12))  # fmt: skip
    dropped = ("sms", "dropped", "no phone number in the preferences")
    assert [(p.channel, p.state, p.reason) for p in no_phone] == [
        ("email", "queued", None),
        dropped,
    ]
    assert [
        p.channel for p in plan_user(1, "payout.paid", Preference(), [], {}, LIMITS, at(9))
    ] == ["email"]  # the default: email only


def test_retries_back_off_doubling_until_the_last_attempt() -> None:
    """30 s, 60 s, 120 s ... capped at 6 h; after attempts_max, no more (dead)."""
    now = at(12)
    delays = [(retry_at(n, now, 30, 8) - now).total_seconds() for n in range(1, 8)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920]
    assert retry_at(8, now, 30, 8) is None
    assert retry_at(3, now, 10_000, 20) == now + timedelta(hours=6)


def test_clock_times_parse_or_say_why() -> None:
    """HH:MM only, 00:00 to 23:59."""
    assert parse_clock("22:30") == 1350 and parse_clock("0:05") == 5
    for bad in ("24:00", "22", "22:5", "ab:cd", "12:60"):
        with pytest.raises(ValueError):
            parse_clock(bad)


def test_a_signature_verifies_and_anything_else_does_not() -> None:
    """The header signs timestamp and body: a changed body, another secret, a stale or
    missing timestamp fail; the worked example of signing.py's docstring holds."""
    body = b'{"a":1}'
    header = signing.signature_header("whsec_test", 1_790_000_000, body)
    assert header.startswith("t=1790000000,v1=")
    assert signing.verify(header, body, "whsec_test", 1_790_000_100)
    assert not signing.verify(header, body + b" ", "whsec_test", 1_790_000_100)
    assert not signing.verify(header, body, "whsec_other", 1_790_000_100)
    assert not signing.verify(header, body, "whsec_test", 1_790_000_000 + 301)
    assert not signing.verify(header.split(",")[1], body, "whsec_test", 1_790_000_000)
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_test", b'1790000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1790000000,v1={expected}"


def test_endpoint_secrets_come_from_the_server_key_and_salt() -> None:
    """The same key and salt give the same secret; another salt or key another one."""
    salt = "ab" * 16
    secret = signing.endpoint_secret(b"k" * 32, salt)
    assert secret.startswith("whsec_") and len(secret) == 6 + 43
    assert signing.endpoint_secret(b"k" * 32, salt) == secret
    assert signing.endpoint_secret(b"k" * 32, "cd" * 16) != secret
    assert signing.endpoint_secret(b"j" * 32, salt) != secret


def test_smtp_urls_say_how_to_connect() -> None:
    """smtp, smtp+starttls and smtps with their default ports; user and password decoded; a
    bad scheme, SMS without its credentials or a long sender id are configuration errors."""
    settings = SimpleNamespace(smtp_url="smtp+starttls://ama%40x.test:p%2Fw@mail.test",
                               mail_from="ZamIO <z@x.test>", smtp_timeout_s=30)  # fmt: skip
    target = mailer.smtp_target(settings)
    assert (target.scheme, target.host, target.port) == ("smtp+starttls", "mail.test", 587)
    assert (target.username, target.password) == ("ama@x.test", "p/w")
    assert "p/w" not in repr(target) and target.sender_domain == "x.test"
    settings.smtp_url = "smtps://mail.test"
    assert mailer.smtp_target(settings).port == 465
    for bad in ({"SMTP_URL": "http://mail.test"}, {"SMS_URL": "http://sms.test"},
                {"SMS_FROM": "ZamIO Ghana Limited"}, {"MAIL_FROM": "nobody"}):  # fmt: skip
        with pytest.raises(ConfigError):
            load_settings({}, {"DATABASE_URL": "sqlite://", **bad})
    overrides = {"DATABASE_URL": "sqlite://", "SMTP_URL": "smtp://u:hunter2pw@mail.test"}
    redacted = load_settings({}, overrides).redacted()
    assert "hunter2pw" not in str(redacted) and redacted["smtp_url"] == "smtp://u:***@mail.test"
