"""Settings for the edge agent: a TOML file, then ZAMIO_AGENT_* variables, validated at start."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import operator
import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge_agent.errors import SettingsError

DEFAULT_CONFIG_PATH = Path("/etc/zamio/agent.toml")
CONFIG_ENV = "ZAMIO_AGENT_CONFIG"  # path override
ENV_PREFIX = "ZAMIO_AGENT_"
SOURCES_MAX = 32
SOURCE_KINDS = ("stream", "file", "alsa", "soundcard")
STREAM_SCHEMES = ("http", "https", "rtmp", "rtmps", "rtsp", "srt", "udp", "tcp")  # HLS: http(s)
MQTT_SCHEMES = ("mqtt", "mqtts")
MQTT_PROTOCOLS = ("5", "3.1.1")  # 3.1.1 for brokers without MQTT 5, e.g. central's embedded amqtt
LOG_LEVELS = ("debug", "info", "warning", "error")
# A file source's start_ms: fixed bounds (not the clock, so a config is valid or not whatever
# the time), wide enough for any recording, narrow enough to catch seconds or microseconds.
START_MS_MIN = 946_684_800_000  # 2000-01-01T00:00:00Z
START_MS_MAX = 4_102_444_800_000  # 2100-01-01T00:00:00Z
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # goes into MQTT topics: no '/', '+', '#'
# A URL's password: from the first ':' after the user name to the last '@'. Greedy on purpose:
# a password holding '/', '#' or '@' must not leak, at the cost of over-masking a rare URL.
_USERINFO = re.compile(r"(://[^/?#@:]*:).*@", re.DOTALL)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_Check = Callable[[Any], str]  # why a value is unusable, or ""
_Entry = tuple[Any, str]  # a typed value and where it was set, e.g. "agent.toml: [spool] path"


def _limit(
    default: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    above: float | None = None,
    below: float | None = None,
) -> Any:
    """A dataclass field with `default` whose values must be >= low, <= high, > above, < below."""
    bounds = ((">=", operator.ge, low), ("<=", operator.le, high))
    bounds += ((">", operator.gt, above), ("<", operator.lt, below))
    rules = [(name, test, bound) for name, test, bound in bounds if bound is not None]

    def check(value: float) -> str:
        if all(test(value, bound) for _, test, bound in rules):
            return ""
        return f"must be {' and '.join(f'{name} {bound}' for name, _, bound in rules)}, got {value}"

    return field(default=default, metadata={"check": check})


@dataclass(frozen=True)
class SourceSettings:
    """One audio source: a stream URL, a file, an ALSA device or a sound card."""

    source_id: str  # TOML key "id"
    kind: str  # one of SOURCE_KINDS
    url: str | None = None  # stream only (required there)
    path: Path | None = None  # file only (required there, must exist)
    device: str | None = None  # alsa (required, "hw:1,0") or soundcard (name or index)
    station_id: str | None = None  # default: the agent's station_id, set by load_settings
    loop: bool = False  # file only: start again at the end
    readrate: float = _limit(1.0, 0)  # file only: 1.0 = real time, 0 = as fast as possible
    # file only: UTC ms of the file's first sample (a recording, placed at its own time however
    # fast it is read); unset: the file is heard as it is read, from when reading starts.
    # Within START_MS_MIN .. START_MS_MAX.
    start_ms: int | None = None


@dataclass(frozen=True)
class UplinkSettings:
    """The MQTT connection to central; the password is read from password_file, never logged."""

    url: str = "mqtt://127.0.0.1:1883"  # mqtt:// or mqtts://; port defaults 1883 / 8883
    protocol: str = "5"  # MQTT version, one of MQTT_PROTOCOLS; 3.1.1 has no session expiry
    username: str | None = None
    password_file: Path | None = None
    password: str | None = field(default=None, repr=False)  # filled from password_file only
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str | None = None  # default: f"zamio-agent-{device_id}", set by load_settings
    keepalive_s: int = _limit(60, 5, 600)
    heartbeat_s: float = _limit(60.0, 1, 3600)
    session_expiry_s: int = _limit(7 * 86400, 0, 2**32 - 1)
    inflight_max: int = _limit(16, 1, 1000)
    backlog_rate_max: float = _limit(5.0, above=0)  # batches per second drained from the backlog
    backoff_s_min: float = _limit(1.0, above=0)
    backoff_s_max: float = _limit(120.0, above=0)  # and >= backoff_s_min

    @property
    def host(self) -> str:
        """The broker's host name or address."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The broker's port: the URL's, else 8883 for mqtts and 1883 for mqtt."""
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    @property
    def tls(self) -> bool:
        """Whether the connection uses TLS (an mqtts:// URL)."""
        return urlsplit(self.url).scheme == "mqtts"


@dataclass(frozen=True)
class SpoolSettings:
    """The disk outbox that holds batches while central is out of reach."""

    path: Path = Path("/var/lib/zamio/spool.db")
    bytes_max: int = _limit(100 * 1024 * 1024, 1024 * 1024)  # payload bytes; file ~15-20 % more
    age_s_max: float = _limit(14 * 86400.0, above=0)
    disk_free_bytes_min: int = _limit(16 * 1024 * 1024, 0)  # below: oldest make room for newest
    # The delivered-journal, kept so central can ask for a lost range again; 0 turns it off.
    journal_s_max: float = _limit(6 * 3600.0, 0)  # seconds a delivered batch is kept at most
    journal_bytes_max: int = _limit(64 * 1024 * 1024, 0)  # payload bytes; within bytes_max too


@dataclass(frozen=True)
class HealthSettings:
    """Thresholds for audio health (dead air, clipping, stalls) and capture restarts."""

    dead_air_s: float = _limit(15.0, above=0)
    silence_dbfs: float = _limit(-50.0, below=0)
    clipping_share_max: float = _limit(0.01, above=0, below=1)  # share of samples at full scale
    clipping_window_s: float = _limit(10.0, above=0)
    stall_s: float = _limit(10.0, above=0)  # no audio for this long = stream down
    restart_backoff_s_min: float = _limit(1.0, above=0)
    restart_backoff_s_max: float = _limit(60.0, above=0)  # and >= restart_backoff_s_min


@dataclass(frozen=True)
class AgentSettings:
    """Validated settings of one agent; log `redacted()` only."""

    device_id: str
    station_id: str
    sources: tuple[SourceSettings, ...]
    log_level: str = "info"  # one of LOG_LEVELS
    uplink: UplinkSettings = field(default_factory=UplinkSettings)
    spool: SpoolSettings = field(default_factory=SpoolSettings)
    health: HealthSettings = field(default_factory=HealthSettings)

    def redacted(self) -> dict[str, Any]:
        """A plain dict safe to log or print: the password as *** (None if unset), paths as str."""
        values = json.loads(json.dumps(dataclasses.asdict(self), default=str))
        values["uplink"]["password"] = None if self.uplink.password is None else "***"
        for item in [values["uplink"], *values["sources"]]:
            item["url"] = item["url"] and redact_url(item["url"])
        return values


def load_settings(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> AgentSettings:
    """path None -> environ[CONFIG_ENV] or DEFAULT_CONFIG_PATH; environ None -> os.environ."""
    environ = os.environ if environ is None else environ
    if path is None:
        path = Path(environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)
    document = _read_toml(path)
    return parse_settings(document, environ, str(path), base_dir=path.absolute().parent)


def parse_settings(
    document: Mapping[str, Any],
    environ: Mapping[str, str],
    origin: str = "<config>",
    *,
    base_dir: Path | None = None,
) -> AgentSettings:
    """Validate an already-parsed TOML document plus env overrides (the pure part)."""
    return _Parser(origin, base_dir or Path.cwd()).settings(document, environ)


def redact_url(url: str) -> str:
    """`url` with its password, if any, replaced by ***."""
    return _USERINFO.sub(r"\1***@", url, count=1)


def _read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML document at `path`; SettingsError with one problem if there is none."""
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        problem = f"{path}: no such file (pass another path or set {CONFIG_ENV})"
    except OSError as error:
        problem = f"{path}: cannot read: {error.strerror}"
    except UnicodeDecodeError:
        problem = f"{path}: not UTF-8 text"
    except tomllib.TOMLDecodeError as error:
        problem = f"{path}: invalid TOML: {error}"
    raise SettingsError([problem])


@dataclass
class _Parser:
    """One pass over a TOML document and the environment that collects every problem."""

    origin: str  # names the file in problems
    base_dir: Path  # relative paths in the file resolve against it
    problems: list[str] = field(default_factory=list)

    def settings(self, document: Mapping[str, Any], environ: Mapping[str, str]) -> AgentSettings:
        """The validated settings, or SettingsError listing every problem."""
        sections = self.sections(document)
        self.apply_env(environ, sections)
        top = _values(sections[""])
        for key in ("device_id", "station_id"):  # given but invalid: reported already
            variable = f"{ENV_PREFIX}{key.upper()}"
            if key not in document and variable not in environ:
                self.add(self.origin, f"{key} is required (or set {variable})")
        uplink = self.uplink(sections["uplink"], top.get("device_id", ""))
        health = HealthSettings(**_values(sections["health"]))
        self.check_order(health, sections["health"], "restart_backoff_s")
        sources = self.sources(document.get("source"), top.get("station_id"))
        if self.problems:
            raise SettingsError(self.problems)
        top["log_level"] = top.get("log_level", "info").lower()
        spool = SpoolSettings(**_values(sections["spool"]))
        return AgentSettings(**top, sources=sources, uplink=uplink, spool=spool, health=health)

    def add(self, where: str, complaint: str) -> None:
        """Record one problem, `where` naming the file, table and key or the variable."""
        self.problems.append(f"{where}: {complaint}")

    def sections(self, document: Mapping[str, Any]) -> dict[str, dict[str, _Entry]]:
        """The valid values of the top level ("") and of each table, each with where it was set."""
        top = {key: value for key, value in document.items() if key not in (*_TABLES, "source")}
        sections = {"": self.entries(top, "", "")}
        for name in _TABLES:
            table = document.get(name, {})
            sections[name] = (
                self.entries(table, name, f"[{name}]") if isinstance(table, dict) else {}
            )
            if not isinstance(table, dict):
                self.add(self.origin, f"{name} must be a table: write [{name}]")
        return sections

    def entries(self, table: Mapping[str, Any], section: str, label: str) -> dict[str, _Entry]:
        """The valid values of one table of `section`, named `label` in problems."""
        schema, entries = _SCHEMA[section], {}
        for key, value in table.items():
            if key not in schema:
                hint = _PASSWORD_HINT if key == "password" else _suggest(key, schema)
                self.add(self.origin, f"unknown key {key!r} in {label or 'the top level'}{hint}")
                continue
            where = f"{self.origin}: {label} {key}" if label else f"{self.origin}: {key}"
            try:
                value = _from_toml(schema[key][0], value, self.base_dir)
            except ValueError as error:
                self.add(where, str(error))
                continue
            if self.valid(section, key, value, where):
                entries[key] = (value, where)
        return entries

    def valid(self, section: str, key: str, value: Any, where: str) -> bool:
        """Whether `value` passes the check of `key`; records the problem if it does not."""
        complaint = _SCHEMA[section][key][1](value)
        if complaint:
            self.add(where, complaint)
        return not complaint

    def apply_env(self, environ: Mapping[str, str], sections: dict[str, dict[str, _Entry]]) -> None:
        """Override `sections` with the ZAMIO_AGENT_* variables in `environ`."""
        for name in sorted(environ):
            if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
                continue
            if name not in _ENV_NAMES:
                self.add(name, _unknown_env_hint(name))
                continue
            section, key = _ENV_NAMES[name]
            try:
                value = _from_env(_SCHEMA[section][key][0], environ[name])
            except ValueError as error:
                self.add(name, str(error))
                continue
            if self.valid(section, key, value, name):
                sections[section][key] = (value, name)

    def check_order(self, settings: Any, entries: Mapping[str, _Entry], stem: str) -> None:
        """Record a problem unless `{stem}_max` >= `{stem}_min` in `settings`."""
        low, high = getattr(settings, f"{stem}_min"), getattr(settings, f"{stem}_max")
        if high < low:
            where = entries[f"{stem}_max" if f"{stem}_max" in entries else f"{stem}_min"][1]
            self.add(where, f"{stem}_max ({high}) is below {stem}_min ({low})")

    def uplink(self, entries: Mapping[str, _Entry], device_id: str) -> UplinkSettings:
        """The uplink settings, the password read from its file and the client id resolved."""
        settings = UplinkSettings(**_values(entries))
        tls_files = [key for key in ("ca_file", "cert_file", "key_file") if key in entries]
        if ("cert_file" in entries) != ("key_file" in entries):
            where = entries["cert_file" if "cert_file" in entries else "key_file"][1]
            self.add(where, "cert_file and key_file go together: set both or neither")
        if tls_files and not settings.tls:
            complaint = f"{', '.join(tls_files)} set but the url is mqtt://; use mqtts://"
            self.add(entries[tls_files[0]][1], complaint)
        self.check_order(settings, entries, "backoff_s")
        password = None
        if "password_file" in entries:
            path, where = entries["password_file"]
            if "username" not in entries:
                self.add(where, "password_file is set but username is not")
            password = self.password(path, where)
        client_id = settings.client_id or f"zamio-agent-{device_id}"
        return dataclasses.replace(settings, password=password, client_id=client_id)

    def password(self, path: Path, where: str) -> str | None:
        """The password in `path` without trailing line breaks, or None if unusable."""
        complaint = _check_readable(path)
        if not complaint:
            try:
                password = path.read_bytes().decode("utf-8").rstrip("\r\n")
            except OSError as error:
                complaint = f"cannot read {path}: {error.strerror}"
            except UnicodeDecodeError:
                complaint = f"{path} is not UTF-8 text"
            else:
                complaint = "" if password else f"{path} is empty"
        if complaint:
            self.add(where, complaint)
            return None
        return password

    def sources(self, raw: Any, station_id: str | None) -> tuple[SourceSettings, ...]:
        """The [[source]] tables as settings: 1 to SOURCES_MAX of them, ids unique."""
        if not raw:
            self.add(self.origin, "no sources: add at least one [[source]] table")
            return ()
        if not isinstance(raw, list) or not all(isinstance(table, dict) for table in raw):
            self.add(self.origin, "source must be an array of tables: write [[source]]")
            return ()
        if len(raw) > SOURCES_MAX:
            self.add(self.origin, f"{len(raw)} sources, at most {SOURCES_MAX} are allowed")
        sources, first_index = [], {}
        for index, table in enumerate(raw):
            source_id = table.get("id")
            label = f"source[{index}]" + (f" (id {source_id!r})" if type(source_id) is str else "")
            source = self.source(table, label)
            if source is None:
                continue
            if source_id in first_index:
                duplicate = f"source[{first_index[source_id]}]"
                self.add(f"{self.origin}: {label}", f"id {source_id!r} is used by {duplicate} too")
            first_index.setdefault(source_id, index)
            sources.append(dataclasses.replace(source, station_id=source.station_id or station_id))
        return tuple(sources)

    def source(self, table: Mapping[str, Any], label: str) -> SourceSettings | None:
        """One [[source]] table as settings, or None if it lacks a valid id or kind."""
        entries, where = self.entries(table, "source", label), f"{self.origin}: {label}"
        for key in ("id", "kind"):
            if key not in table:
                self.add(where, f"{key} is required")
        kind = entries.get("kind", (None, ""))[0]
        if kind not in _KIND_KEYS or "id" not in entries:
            return None
        required, allowed = _KIND_KEYS[kind]
        for key in required:
            if key not in table:
                self.add(where, f"{key} is required for a {kind} source")
        fitting = {"id", "kind", "station_id", *allowed}
        for key in sorted(key for key in table if key in _SCHEMA["source"] and key not in fitting):
            self.add(where, f"{key} does not apply to a {kind} source")
        values = _values(entries)
        return SourceSettings(source_id=values.pop("id"), **values)


def _values(entries: Mapping[str, _Entry]) -> dict[str, Any]:
    """The values of `entries` without where they were set."""
    return {key: value for key, (value, _) in entries.items()}


def _from_toml(kind: type, value: Any, base_dir: Path) -> Any:
    """`value` from the file as `kind`, paths resolved against `base_dir`; ValueError if not."""
    if kind is float and type(value) is int:
        value = float(value)
    if type(value) is not (str if kind is Path else kind):
        got = _TYPE_NAMES.get(type(value), type(value).__name__)
        raise ValueError(f"expected {_TYPE_NAMES[kind]}, got {got}")
    if kind is float and not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value}")
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty")
    return base_dir / value if kind is Path else value


def _from_env(kind: type, raw: str) -> Any:
    """An environment variable's text as `kind`, paths resolved against the current directory."""
    text = raw.strip()
    if not text:
        raise ValueError("is empty: unset it to use the file's value or the default")
    if kind is bool:
        if text.lower() not in _TRUE + _FALSE:
            raise ValueError(f"expected one of {'/'.join(_TRUE + _FALSE)}, got {raw!r}")
        return text.lower() in _TRUE
    if kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"expected {_TYPE_NAMES[kind]}, got {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {raw!r}")
        return value
    return Path(text).absolute() if kind is Path else text


def _unknown_env_hint(name: str) -> str:
    """Why the ZAMIO_AGENT_* variable `name` sets nothing, with a hint."""
    if name == f"{ENV_PREFIX}UPLINK_PASSWORD":
        return f"unknown variable; put the password in a file and set {name}_FILE"
    if name.startswith(f"{ENV_PREFIX}SOURCE"):
        return "unknown variable; sources cannot be set from the environment, use [[source]]"
    return "unknown variable" + _suggest(name, _ENV_NAMES)


def _suggest(word: str, known: Iterable[str]) -> str:
    """'; did you mean X?' for the closest of `known` to `word`, or ''."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_id(value: str) -> str:
    """Why `value` cannot be an id in MQTT topics, or ''."""
    if _ID.fullmatch(value):
        return ""
    rule = "1 to 64 letters, digits, '.', '_' or '-', the first a letter or digit"
    return f"must be {rule} (it goes into MQTT topics), got {value!r}"


def _check_readable(path: Path) -> str:
    """Why `path` is no readable regular file, or ''."""
    if not os.path.isfile(path):
        return f"{path} is not a file" if os.path.exists(path) else f"{path} does not exist"
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        return f"cannot read {path}: {error.strerror}"
    return ""


def _check_spool_path(path: Path) -> str:
    """Why `path` cannot be the spool's database file, or ''."""
    if path.is_dir():
        return f"{path} is a directory; give the spool's file, e.g. {path / 'spool.db'}"
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is not a directory, so {path} cannot be created"
    if not os.access(ancestor, os.W_OK | os.X_OK) and not path.exists():
        return f"cannot create {path}: {ancestor} is not writable"
    return ""


def _check_start_ms(start_ms: int) -> str:
    """Why `start_ms` is no plausible UTC ms of a recording's first sample, or ''."""
    if START_MS_MIN <= start_ms < START_MS_MAX:
        return ""
    years = 1970 + start_ms / (1000 * 86400 * 365.2425)
    return (
        f"must be UTC milliseconds from 2000-01-01 to 2100-01-01 ({START_MS_MIN} .. "
        f"{START_MS_MAX - 1}), got {start_ms} (in the year {int(years)}): seconds or "
        "microseconds instead of milliseconds?"
    )


def _check_url(url: str, schemes: tuple[str, ...]) -> str:
    """Why `url` lacks one of `schemes`, a host or a valid port, or ''."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"is not a valid URL (is the port within 1..65535?): {redact_url(url)}"
    if parts.scheme not in schemes:
        return f"scheme must be one of {', '.join(schemes)}: {redact_url(url)}"
    if not parts.hostname or port == 0:
        return f"needs a host and an optional port within 1..65535: {redact_url(url)}"
    return ""


def _check_mqtt_url(url: str) -> str:
    """Why `url` is no mqtt:// or mqtts:// broker address, or ''."""
    complaint = _check_url(url, MQTT_SCHEMES)
    parts = urlsplit(url) if not complaint else None
    if parts and "@" in parts.netloc:
        complaint = "must hold no credentials: set username and password_file instead"
    elif parts and (parts.path not in ("", "/") or parts.query or parts.fragment):
        complaint = f"must have no path or query: {redact_url(url)}"
    return complaint


def _one_of(choices: tuple[str, ...], fold: Callable[[str], str] = str) -> _Check:
    """A check that a value, folded (e.g. lower-cased), is one of `choices`."""

    def check(value: str) -> str:
        if fold(value) in choices:
            return ""
        return f"must be one of {', '.join(choices)}, got {value!r}"

    return check


def _schema(cls: type, checks: Mapping[str, _Check]) -> dict[str, tuple[type, _Check]]:
    """Key -> (type, check) of each field of `cls` a user may set; checks from metadata too."""
    hints = typing.get_type_hints(cls)
    schema = {}
    for item in dataclasses.fields(cls):
        kinds = typing.get_args(hints[item.name]) or [hints[item.name]]
        kind = next(kind for kind in kinds if kind is not type(None))
        check = checks.get(item.name) or item.metadata.get("check") or (lambda value: "")
        if kind in _TYPE_NAMES and item.name != "password":
            schema["id" if item.name == "source_id" else item.name] = (kind, check)
    return schema


_TYPE_NAMES: dict[type, str] = {
    str: "a string",
    Path: "a path (a string)",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a table",  # the rest name what a file gave, for problems
    list: "an array",
}
_PASSWORD_HINT = "; put the password in a file and set password_file"
_check_stream_url = functools.partial(_check_url, schemes=STREAM_SCHEMES)
_IDS = dict.fromkeys(("device_id", "station_id", "client_id", "source_id"), _check_id)
_TLS_FILES = dict.fromkeys(("ca_file", "cert_file", "key_file"), _check_readable)
_TABLES = ("uplink", "spool", "health")  # the [table]s; [[source]] is an array
_SCHEMA = {
    "": _schema(AgentSettings, {**_IDS, "log_level": _one_of(LOG_LEVELS, str.lower)}),
    "uplink": _schema(
        UplinkSettings,
        {**_IDS, **_TLS_FILES, "url": _check_mqtt_url, "protocol": _one_of(MQTT_PROTOCOLS)},
    ),
    "spool": _schema(SpoolSettings, {"path": _check_spool_path}),
    "health": _schema(HealthSettings, {}),
    "source": _schema(
        SourceSettings,
        {
            **_IDS,
            "kind": _one_of(SOURCE_KINDS),
            "path": _check_readable,
            "url": _check_stream_url,
            "start_ms": _check_start_ms,
        },
    ),
}
_ENV_NAMES = {  # ZAMIO_AGENT_DEVICE_ID -> ("", "device_id"), ..._UPLINK_URL -> ("uplink", "url")
    ENV_PREFIX + "_".join(filter(None, (section, key))).upper(): (section, key)
    for section, schema in _SCHEMA.items()
    if section != "source"
    for key in schema
}
_KIND_KEYS = {  # kind -> (keys it requires, keys only it allows)
    "stream": (("url",), ("url",)),
    "file": (("path",), ("path", "loop", "readrate", "start_ms")),
    "alsa": (("device",), ("device",)),
    "soundcard": ((), ("device",)),
}
