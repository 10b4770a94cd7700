"""Console sessions: Flask-Login over the signed session cookie. A session names the user and
their `session_epoch`, so a password change or a disable ends every session of theirs at once;
the cookie's key is ZAMIO_SECRET_KEY, or one made once and kept readable by its owner only."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_login import LoginManager, UserMixin
from sqlalchemy.engine import make_url

from central.auth.models import User
from central.config import Settings, data_dir
from central.extensions import db

logger = logging.getLogger(__name__)

SECRET_FILE = "console-secret"
SECRET_BYTES = 32
COOKIE_NAME = "zamio_session"


class ConsoleUser(UserMixin):
    """The logged-in user as Flask-Login sees them: id and session epoch, nothing secret."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        """`<user id>:<session epoch>`: a session of an earlier epoch no longer loads."""
        return f"{self.user.id}:{self.user.session_epoch or 0}"

    @property
    def is_active(self) -> bool:
        return bool(self.user.active)


def load_user(session_id: str) -> ConsoleUser | None:
    """The user of a session id, if it is still active and of the current epoch."""
    user_id, _, epoch = session_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or (user.session_epoch or 0) != int(epoch):
        return None
    return ConsoleUser(user)


def init_app(app: Flask, settings: Settings) -> LoginManager:
    """Session cookie flags and lifetime, the secret key, and Flask-Login on `app`."""
    secure = settings.public_url.lower().startswith("https://")
    app.config.update(
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # not sent on cross-site POSTs: CSRF's second wall
        SESSION_COOKIE_SECURE=secure,  # over HTTPS only once the console is served on it
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=secure,
        WTF_CSRF_CHECK_DEFAULT=False,  # the console's guard checks its own forms; not the API
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the session it is bound to
    )
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.user_loader(load_user)
    manager.init_app(app)
    return manager


def secret_key(settings: Settings) -> str:
    """ZAMIO_SECRET_KEY, else the key kept in `console-secret` (made on first use, mode 0600)."""
    if settings.secret_key is not None:
        return settings.secret_key
    path = secret_path(settings)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(SECRET_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    logger.info("console: made a session key in %s (set ZAMIO_SECRET_KEY to share one)", path)
    return key


def secret_path(settings: Settings) -> Path:
    """Where the made key is kept: beside the SQLite file, else in the user's data dir."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().absolute().parent / SECRET_FILE
    return data_dir(os.environ) / SECRET_FILE
