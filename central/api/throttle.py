"""Throttling on `limits` (the engine of Flask-Limiter), one limiter per app: every API caller
by token (`api_rate_limit`), failed authentications by client address
(`auth_failure_rate_limit`, counted only when they fail, checked before the next try), and
logins and password resets by address and by email (`login_rate_limit`). Storage: Redis at
ZAMIO_REDIS_URL (shared by every process), else memory. A refusal is 429 with Retry-After.

Why not the Flask-Limiter extension itself: its one Limiter object per process keeps the
storage of the last app it was bound to, so two apps in one process (tests, `zamio demo`)
would count each other's requests."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from central.auth import keys
from central.auth.policy import bearer_token

logger = logging.getLogger(__name__)

EXTENSION = "zamio_throttle"
KEY_PREFIX = "zamio-limits"


@dataclass
class Throttle:
    """The limiter of one app: its storage and the parsed limits."""

    storage: Storage
    strategy: MovingWindowRateLimiter
    api: list[RateLimitItem]
    auth_failures: list[RateLimitItem]
    login: list[RateLimitItem]

    def check(self, items: list[RateLimitItem], *key: str) -> None:
        """TooManyRequests (429, Retry-After) if `key` is over any of `items`; else count it."""
        for item in items:
            if not self._hit(item, key):
                raise _refusal(self, item, key)

    def peek(self, items: list[RateLimitItem], *key: str) -> None:
        """TooManyRequests if `key` is over any of `items`, counting nothing."""
        for item in items:
            if not self._test(item, key):
                raise _refusal(self, item, key)

    def count(self, items: list[RateLimitItem], *key: str) -> None:
        """Count one for `key` against `items` (a failed authentication)."""
        for item in items:
            self._hit(item, key)

    def _hit(self, item: RateLimitItem, key: tuple[str, ...]) -> bool:
        try:
            return self.strategy.hit(item, KEY_PREFIX, *key)
        except Exception as error:  # noqa: BLE001 - Redis away: serve unthrottled, say so
            logger.warning("throttle: storage unavailable, not throttling: %s", error)
            return True

    def _test(self, item: RateLimitItem, key: tuple[str, ...]) -> bool:
        try:
            return self.strategy.test(item, KEY_PREFIX, *key)
        except Exception as error:  # noqa: BLE001 - as in _hit
            logger.warning("throttle: storage unavailable, not throttling: %s", error)
            return True


def init_app(app: Flask) -> None:
    """A limiter for `app`, on the storage its settings name."""
    settings = app.config["ZAMIO"]
    storage = storage_from_string(settings.redis_url or "memory://")
    app.extensions[EXTENSION] = Throttle(
        storage,
        MovingWindowRateLimiter(storage),
        parse_many(settings.api_rate_limit),
        parse_many(settings.auth_failure_rate_limit),
        parse_many(settings.login_rate_limit),
    )


def throttle() -> Throttle:
    """The current app's limiter."""
    return current_app.extensions[EXTENSION]


def caller_key() -> str:
    """The caller a request counts against: its token's key id, else its address."""
    presented = bearer_token(request.headers.get("Authorization"))
    key_id = None if presented is None else keys.token_key_id(presented)
    if key_id is not None:
        return f"token:{key_id}"
    return f"ip:{request.remote_addr}"


def address_key() -> str:
    """The client address (behind ZAMIO_TRUSTED_PROXIES: the one they forwarded)."""
    return f"ip:{request.remote_addr}"


def email_key(email: str) -> str:
    """The email a login or reset asks about, so one account cannot be tried from many
    addresses faster than from one."""
    return f"email:{email.strip().lower()[:254]}"


def check_login(email: str | None) -> None:
    """Before a login, a reset request or a password set: the address and the email."""
    limiter = throttle()
    limiter.check(limiter.login, "login", address_key())
    if email is not None:
        limiter.check(limiter.login, "login", email_key(email))


def _refusal(limiter: Throttle, item: RateLimitItem, key: tuple[str, ...]) -> TooManyRequests:
    """429 saying when to come back."""
    try:
        reset_s = limiter.strategy.get_window_stats(item, KEY_PREFIX, *key).reset_time
        wait_s = max(1, math.ceil(reset_s - time.time()))
    except Exception:  # noqa: BLE001 - the window is unknown: the whole period
        wait_s = item.get_expiry()
    error = TooManyRequests(f"too many requests: at most {item}; try again in {wait_s} s")
    error.retry_after = wait_s  # type: ignore[assignment]
    return error
