"""Settings for central: defaults in code, then ZAMIO_* environment variables, then overrides."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from central.errors import ConfigError

ENV_PREFIX = "ZAMIO_"
DATABASE_DRIVERS = ("sqlite", "postgresql")
# Plain postgresql:// means psycopg 3 to SQLAlchemy 2.1; ZamIO ships psycopg2, so say it.
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
POSTGRES_DRIVER_SCHEME = "postgresql+psycopg2://"
REDIS_SCHEMES = ("redis", "rediss", "unix")
MQTT_SCHEMES = ("mqtt", "mqtts")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
API_TOKEN_CHARS_MIN = 32
SECRET_KEY_CHARS_MIN = 32
FUNDING_DUE_DAYS_MAX = 365  # an invoice due later than a year after its month is a mistake
TRUSTED_PROXIES_MAX = 5  # more hops than this in front of zamio serve is a mistake
# RFC 6750 b64token characters: what fits an `Authorization: Bearer` header unquoted
API_TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~+/-]+=*")


@dataclass(frozen=True)
class Settings:
    """Validated settings; URLs may hold passwords, so log `redacted()` only."""

    database_url: str  # SQLAlchemy URL; default: SQLite file in the user's data dir
    redis_url: str | None = None  # unset: no Redis, each job runs at once in the enqueuing process
    mqtt_url: str | None = None  # unset: `zamio ingest` runs an embedded broker at mqtt_bind
    mqtt_bind: str = "127.0.0.1:1883"  # host:port the embedded broker listens on
    database_auto_upgrade: bool = True  # migrate an SQLite database that is behind when opened
    plays_close_wait_s: int = 7200  # close an open play this long after its last change anyway
    batch_retention_days: int = 30  # keep hash batches this long, for re-matching
    plays_build_interval_s: int = 15  # a station's plays are rebuilt at most this often (0: always)
    royalty_tariff_code: str = "broadcast"  # the rate card plays are priced by (its versions)
    # ingest seq accounting (central/ingest/accounting.py): gaps are asked for again after the
    # grace, then with doubling waits from the interval; lost after that many requests
    ingest_gap_grace_s: int = 60
    ingest_resend_interval_s: int = 60
    ingest_resend_tries_max: int = 5
    testing: bool = False
    # Bootstrap admin token of /api/v1 (no user row; for the first `POST /api/v1/users` or a
    # script); unset: only users' personal access tokens work. Secret: not in repr or logs.
    api_token: str | None = dataclasses.field(default=None, repr=False)
    # Throttling (Flask-Limiter; Redis at redis_url, else in memory): every API caller, failed
    # authentications per client address, and logins and password resets per address and email
    api_rate_limit: str = "600 per minute"
    auth_failure_rate_limit: str = "30 per minute"
    login_rate_limit: str = "10 per minute"
    # The address people reach the console at, for links in mail (invites, password resets)
    public_url: str = "http://127.0.0.1:8000"
    # Operator area (zamio serve behind a reverse proxy): how many proxies in front of the app
    # set X-Forwarded-For/-Proto/-Host/-Port/-Prefix; 0 (default): those headers are ignored.
    trusted_proxies: int = 0
    # Track uploads (central/catalog/uploads.py): the largest file taken, and where files are
    # kept; unset: an `uploads` folder beside the SQLite file, or in the user's data dir.
    upload_bytes_max: int = 200 * 1024 * 1024
    uploads_dir: str | None = None
    # The console's session cookies are signed with this (at least 32 characters; every process
    # serving the console must share it). Unset: a key made once and kept, readable by its owner
    # only, in `console-secret` beside the SQLite file or in the user's data dir.
    secret_key: str | None = dataclasses.field(default=None, repr=False)
    session_hours: int = 12  # a console login lasts this long (then: sign in again)
    # Payouts (central/payouts/): MTN MoMo's Disbursement API (or `zamio momo-sim`) at momo_url;
    # unset: withdrawals can be requested and approved, and wait for a provider to be set.
    momo_url: str | None = None
    momo_api_user: str | None = None  # the API user's UUID
    momo_api_key: str | None = dataclasses.field(default=None, repr=False)
    momo_subscription_key: str | None = dataclasses.field(default=None, repr=False)
    momo_environment: str = "sandbox"  # X-Target-Environment: sandbox, mtnghana, ...
    momo_timeout_s: int = 15  # one HTTP request to the provider, at most
    payouts_minimum_minor: int = 1000  # the smallest withdrawal (GHS 10.00)
    payouts_four_eyes_minor: int = 100_000  # from this amount (GHS 1,000.00) two admins approve
    payouts_cooling_off_hours: int = 24  # a new or changed payout method is used after this
    # Notifications (central/notifications/): mail by SMTP at smtp_url (`smtp://` plain, e.g. a
    # local relay; `smtp+starttls://` STARTTLS required; `smtps://` TLS from the start; user and
    # password in the URL); unset: notification mail is not sent (the inbox has it) and the
    # outbox of invites and resets waits for `zamio user outbox`.
    smtp_url: str | None = None
    mail_from: str = "ZamIO <zamio@localhost>"  # the From of every mail
    smtp_timeout_s: int = 30  # one SMTP conversation step, at most
    # SMS through Hubtel's SMS API (or `zamio sms-sim`) at sms_url; unset: no SMS is sent.
    sms_url: str | None = None
    sms_client_id: str | None = None
    sms_client_secret: str | None = dataclasses.field(default=None, repr=False)
    sms_from: str = "ZamIO"  # the sender id people see (at most 11 letters and digits)
    sms_timeout_s: int = 15
    # Webhooks: one POST, at most this long; http:// and private, loopback or link-local
    # addresses only when allowed (a developer's receiver on 127.0.0.1), else https to public ones
    webhook_timeout_s: int = 10
    webhook_allow_private: bool = False
    # Limits per user and channel, per rolling hour: more is dropped with its reason (the inbox
    # keeps every notification); webhooks are not limited (an integrator's system wants all).
    notify_email_per_hour_max: int = 30
    notify_sms_per_hour_max: int = 5
    # A failed delivery is retried after retry_base_s, doubling, until attempts_max, then dead.
    notify_retry_base_s: int = 30
    notify_attempts_max: int = 8
    # Device offline, stream down or dead air: notified once an incident is this old.
    notify_incident_min: int = 10
    # Station funding (central/funding/): a postpaid station's invoice is due this many days
    # after the last day of its month
    funding_invoice_due_days: int = 30

    def redacted(self) -> dict[str, Any]:
        """The settings with every password and token replaced by ***, safe to log."""
        values = dataclasses.asdict(self)
        values = {k: redact_url(v) if k.endswith("_url") and v else v for k, v in values.items()}
        return {k: "***" if k in SECRETS and v is not None else v for k, v in values.items()}


def load_settings(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Merge defaults, ZAMIO_* variables and `overrides`; report every problem at once."""
    values: dict[str, Any] = {"database_url": default_database_url(environ)}
    problems: list[str] = []
    for key, raw in sorted(environ.items()):
        if key.startswith(ENV_PREFIX):
            _merge(values, problems, key, key[len(ENV_PREFIX) :], raw)
    for key, value in (overrides or {}).items():
        _merge(values, problems, f"override {key}", key, value)
    values["database_url"] = with_declared_driver(values["database_url"])
    settings = Settings(**values)
    problems += validate(settings)
    if problems:
        raise ConfigError(problems)
    return settings


def default_database_url(environ: Mapping[str, str]) -> str:
    """SQLite file in $XDG_DATA_HOME/zamio (or ~/.local/share/zamio) as an SQLAlchemy URL."""
    return f"sqlite:///{data_dir(environ) / 'zamio.db'}"


def with_declared_driver(url: str) -> str:
    """`url` with a plain postgresql:// or postgres:// scheme made postgresql+psycopg2://."""
    for scheme in POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return POSTGRES_DRIVER_SCHEME + url[len(scheme) :]
    return url


def data_dir(environ: Mapping[str, str]) -> Path:
    """The user's data directory for ZamIO, per the XDG base directory spec."""
    xdg = environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "zamio"


def validate(settings: Settings) -> list[str]:
    """Every problem with `settings`, each naming its variable, with secrets redacted."""
    problems = [_check_database_url(settings.database_url)]
    problems.append(_check_scheme("ZAMIO_REDIS_URL", settings.redis_url, REDIS_SCHEMES))
    problems.append(_check_scheme("ZAMIO_MQTT_URL", settings.mqtt_url, MQTT_SCHEMES))
    problems.append(_check_bind("ZAMIO_MQTT_BIND", settings.mqtt_bind))
    problems.append(_check_api_token(settings.api_token))
    if settings.secret_key is not None and len(settings.secret_key) < SECRET_KEY_CHARS_MIN:
        problems.append(f"ZAMIO_SECRET_KEY: use at least {SECRET_KEY_CHARS_MIN} random characters")
    problems += _check_rate_limits(settings)
    problems.append(_check_momo(settings))
    problems += _check_notifications(settings)
    problems.append(_check_funding(settings))
    if settings.trusted_proxies > TRUSTED_PROXIES_MAX:
        problems.append(f"ZAMIO_TRUSTED_PROXIES: at most {TRUSTED_PROXIES_MAX}")
    names = ("plays_close_wait_s", "batch_retention_days")
    names += ("ingest_resend_interval_s", "ingest_resend_tries_max", "upload_bytes_max")
    names += ("smtp_timeout_s", "sms_timeout_s", "webhook_timeout_s", "notify_retry_base_s")
    names += ("notify_attempts_max", "notify_incident_min")
    for name in (*names, "session_hours", "momo_timeout_s", "payouts_minimum_minor"):
        if getattr(settings, name) < 1:
            problems.append(f"ZAMIO_{name.upper()}: must be at least 1")
    return [p for p in problems if p]


def redact_url(url: str) -> str:
    """`url` with its password, if any, replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo = f"{parts.username or ''}:***@"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=userinfo + host))


def _merge(values: dict[str, Any], problems: list[str], source: str, key: str, value: Any) -> None:
    """Parse one setting into `values`, or append why it cannot be used to `problems`."""
    name = key.lower()
    if name not in _TYPES:
        problems.append(f"{source}: unknown setting (known: {', '.join(_known_names())})")
        return
    expected = _TYPES[name]
    if value is None and name in OPTIONAL:
        values[name] = None
        return
    if isinstance(value, str):
        try:
            value = _PARSERS[expected](value)
        except ValueError as error:
            problems.append(f"{source}: {error}")
            return
    elif not isinstance(value, expected) or isinstance(value, bool) is not (expected is bool):
        problems.append(f"{source}: expected {expected.__name__}, got {type(value).__name__}")
        return
    values[name] = value


def _parse_bool(raw: str) -> bool:
    """'1/true/yes/on' or '0/false/no/off', any case."""
    lowered = raw.strip().lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise ValueError(f"expected one of {'/'.join(_TRUE + _FALSE)}")


def _parse_str(raw: str) -> str:
    """A non-empty string, surrounding whitespace removed."""
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw.strip()


def _parse_int(raw: str) -> int:
    """A whole number of at least 0 (validate() asks more of some settings)."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"expected a whole number, got {raw.strip()!r}") from None
    if value < 0:
        raise ValueError(f"must be at least 0, got {value}")
    return value


# Settings kept out of repr (secrets, shown as *** by Settings.redacted), and settings whose
# default is None (a value: the embedded default, or off).
SECRETS = tuple(f.name for f in dataclasses.fields(Settings) if not f.repr)
OPTIONAL = tuple(f.name for f in dataclasses.fields(Settings) if f.default is None)
_PARSERS = {bool: _parse_bool, int: _parse_int, str: _parse_str}
_TYPES: dict[str, type] = {
    field.name: {"bool": bool, "int": int}.get(str(field.type), str)
    for field in dataclasses.fields(Settings)
}


def _known_names() -> list[str]:
    """Environment variable names of every setting."""
    return [ENV_PREFIX + name.upper() for name in _TYPES]


def _check_database_url(url: str) -> str:
    """Why `url` is no usable SQLAlchemy URL for SQLite or PostgreSQL, or ''."""
    try:
        driver = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):
        return f"ZAMIO_DATABASE_URL: not a database URL: {redact_url(url)}"
    if driver not in DATABASE_DRIVERS:
        return f"ZAMIO_DATABASE_URL: unsupported database {driver!r}, use sqlite or postgresql"
    return ""


def _check_scheme(name: str, url: str | None, schemes: tuple[str, ...]) -> str:
    """Why `url` lacks one of `schemes` or a host, or '' (also when unset: the embedded default)."""
    if url is None:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        return f"{name}: scheme must be one of {', '.join(schemes)}: {redact_url(url)}"
    if parts.scheme != "unix" and not parts.hostname:
        return f"{name}: no host in {redact_url(url)}"
    return ""


def bind_address(bind: str) -> tuple[str, int]:
    """'host:port' (IPv6 as '[::1]:1883') as (host, port); ValueError if it is not one."""
    host, sep, port = bind.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected host:port, got {bind!r}")
    return host, int(port)


def _check_bind(name: str, bind: str) -> str:
    """Why `bind` is no host:port to listen on, or ''."""
    try:
        bind_address(bind)
    except ValueError as error:
        return f"{name}: {error}"
    return ""


def _check_api_token(token: str | None) -> str:
    """Why `token` is no safe bearer token, or '' (never quotes the token)."""
    if token is None:
        return ""
    if len(token) < API_TOKEN_CHARS_MIN or not API_TOKEN_CHARS.fullmatch(token):
        return (
            f"ZAMIO_API_TOKEN: use at least {API_TOKEN_CHARS_MIN} of A-Z a-z 0-9 . _ ~ + / -,"
            ' e.g. from `python -c "import secrets; print(secrets.token_urlsafe(32))"`'
        )
    return ""


def _check_rate_limits(settings: Settings) -> list[str]:
    """Why a throttling setting is no rate limit like `10 per minute` or `100/hour`."""
    from limits import parse_many

    problems = []
    for name in ("api_rate_limit", "auth_failure_rate_limit", "login_rate_limit"):
        try:
            parse_many(getattr(settings, name))
        except ValueError:
            problems.append(f"ZAMIO_{name.upper()}: a rate like '10 per minute' or '100/hour'")
    return problems


def _check_funding(settings: Settings) -> str:
    """Why the funding settings cannot be used, or ''."""
    if not 0 <= settings.funding_invoice_due_days <= FUNDING_DUE_DAYS_MAX:
        return f"ZAMIO_FUNDING_INVOICE_DUE_DAYS: 0-{FUNDING_DUE_DAYS_MAX} days"
    return ""


def _check_momo(settings: Settings) -> str:
    """Why the MoMo settings cannot reach a provider, or '' (unset URL: no provider)."""
    if settings.momo_url is None:
        return ""
    parts = urlsplit(settings.momo_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"ZAMIO_MOMO_URL: expected an http(s) URL, got {redact_url(settings.momo_url)}"
    missing = [
        f"ZAMIO_{name.upper()}"
        for name in ("momo_api_user", "momo_api_key", "momo_subscription_key")
        if getattr(settings, name) is None
    ]
    if missing:
        return f"ZAMIO_MOMO_URL is set: set {', '.join(missing)} too"
    return ""


SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
SMS_FROM = re.compile(r"[A-Za-z0-9]{1,11}")


def _check_notifications(settings: Settings) -> list[str]:
    """Why the mail, SMS or webhook settings cannot work (unset URLs: that channel is off)."""
    problems = []
    if settings.smtp_url is not None:
        parts = urlsplit(settings.smtp_url)
        if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
            problems.append(
                f"ZAMIO_SMTP_URL: expected {', '.join(s + '://' for s in SMTP_SCHEMES)}HOST[:PORT]"
                f" (user and password in the URL), got {redact_url(settings.smtp_url)}"
            )
    if "@" not in settings.mail_from:
        problems.append("ZAMIO_MAIL_FROM: an address, e.g. 'ZamIO <zamio@example.com>'")
    if settings.sms_url is not None:
        parts = urlsplit(settings.sms_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(
                f"ZAMIO_SMS_URL: expected an http(s) URL, got {redact_url(settings.sms_url)}"
            )
        missing = [
            f"ZAMIO_{name.upper()}"
            for name in ("sms_client_id", "sms_client_secret")
            if getattr(settings, name) is None
        ]
        if missing:
            problems.append(f"ZAMIO_SMS_URL is set: set {', '.join(missing)} too")
    if not SMS_FROM.fullmatch(settings.sms_from):
        problems.append("ZAMIO_SMS_FROM: 1 to 11 letters and digits (the sender id)")
    return problems
