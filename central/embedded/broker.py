"""An MQTT broker inside this process: amqtt on its own asyncio loop, in a daemon thread.

amqtt speaks MQTT 3.1.1 only, so clients of the embedded broker use protocol "3.1.1" (the agent's
`[uplink] protocol`, the listener's `protocol`). It keeps sessions, queues and retained messages
in memory: what it holds is gone when the process ends, which is why production runs Mosquitto.

It lets in only what Mosquitto would: active devices and service accounts by their stored `$7$`
hashes (read from the database at each login), plus this process's own service user, whose
password is made at start and lives only in memory (`url` carries it for in-process clients;
`agent_url` is the bare address). Each user is confined to the topics of
`central.stations.credentials`, and a device's client id must be its code (or the agent's
default `zamio-agent-<code>`), so no device takes the ingest's id.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import click
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from flask import Flask, current_app
from paho.mqtt.client import topic_matches_sub

from central.errors import ConfigError
from central.stations import credentials

logger = logging.getLogger(__name__)

PROTOCOL = "3.1.1"  # the only MQTT version amqtt speaks
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
SERVICE_USER = "zamio-embedded"  # this process's own clients (the ingest listener)
LOOPBACK_NAMES = ("localhost",)


class BindError(ConfigError, click.ClickException):
    """The embedded broker cannot listen: a ConfigError that a command shows as its one line
    (`Error: ZAMIO_MQTT_BIND=...`), not a traceback."""

    def __init__(self, problem: str) -> None:
        super().__init__([problem])
        self.message = problem


@dataclass(frozen=True)
class Grant:
    """Who logged in and the topic filters they may write and read."""

    user: str
    write: tuple[str, ...]
    read: tuple[str, ...]


# (user name) -> (stored $7$ hash, topics) of an active device or service account, or None
Lookup = Callable[[str], "tuple[str, dict[str, tuple[str, ...]]] | None"]
_BROKERS: dict[str, EmbeddedBroker] = {}  # plugin config key -> broker (amqtt builds plugins)


class EmbeddedBroker:
    """An amqtt broker listening on host:port (port 0: a free one) until stop(), letting in the
    users `lookup` knows (default: the devices and accounts of the current Flask app)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, lookup: Lookup | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.lookup = lookup or database_lookup()
        self.service_password = credentials.new_password()  # in memory only, for this process
        self._key = uuid.uuid4().hex
        self._grants: dict[str, Grant] = {}  # client id -> its grant, set at login
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="mqtt-broker", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._broker = None

    @property
    def url(self) -> str:
        """The mqtt:// URL, with this process's service login, for its own clients (ingest)."""
        address = local_url(self.host, self.port).removeprefix("mqtt://")
        return f"mqtt://{SERVICE_USER}:{quote(self.service_password, safe='')}@{address}"

    @property
    def agent_url(self) -> str:
        """The bare mqtt:// address agents connect to (with their own device login)."""
        return local_url(self.host, self.port)

    def login(self, client_id: str, user: str | None, password: str | None) -> bool:
        """Whether this user and password may connect with this client id; remembers its grant."""
        grant = self._check(client_id, user, password)
        if grant is None:
            logger.warning("embedded broker: refused client %r (user %r)", client_id, user)
            return False
        self._grants[client_id] = grant
        return True

    def _check(self, client_id: str, user: str | None, password: str | None) -> Grant | None:
        if not user or password is None:
            return None
        if user == SERVICE_USER:
            if not secrets_equal(password, self.service_password):
                return None
            return Grant(user, **credentials.service_topics())
        found = self.lookup(user)
        if found is None or not credentials.verify(password, found[0]):
            return None
        is_service = user.startswith(credentials.SERVICE_PREFIX)
        if not is_service and client_id not in (user, f"zamio-agent-{user}"):
            return None  # like use_username_as_clientid: a device cannot take another's id
        return Grant(user, **found[1])

    def allowed(self, client_id: str | None, topic: str | None, action: Action) -> bool:
        """Whether the logged-in client may do `action` on `topic` (a filter, for SUBSCRIBE)."""
        grant = self._grants.get(client_id or "")
        if grant is None or not topic:
            return False
        if action == Action.PUBLISH:
            return any(topic_matches_sub(f, topic) for f in grant.write)
        if action == Action.SUBSCRIBE:
            return any(filter_within(topic, f) for f in grant.read)
        return any(topic_matches_sub(f, topic) for f in grant.read)

    def start(self) -> EmbeddedBroker:
        """Start listening; ConfigError if the address cannot be bound."""
        logging.getLogger("amqtt").setLevel(logging.WARNING)  # it logs every connection at INFO
        logging.getLogger("transitions").setLevel(logging.WARNING)
        try:
            probe_bind(self.host, self.port)  # before amqtt, which logs a traceback for it
        except BindError:
            self._loop.close()
            raise
        _BROKERS[self._key] = self
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_S) or self._error is not None:
            _BROKERS.pop(self._key, None)
            raise BindError(bind_problem(self.host, self.port, self._error))
        logger.info("embedded broker: listening on %s:%d (MQTT %s)", self.host, self.port, PROTOCOL)
        if not is_loopback(self.host):
            logger.warning(
                "embedded broker: listening on %s:%d WITHOUT TLS: device passwords and batches"
                " cross the network in clear; bind 127.0.0.1 (ZAMIO_MQTT_BIND) or run Mosquitto"
                " with TLS (README, Running for real)",
                self.host,
                self.port,
            )
        return self

    def stop(self) -> None:
        """Close every session and the listener; end the thread."""
        _BROKERS.pop(self._key, None)
        if not self._thread.is_alive():
            return
        if self._broker is not None:
            done = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            done.result(STOP_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT_S)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except Exception as error:  # reported by start()
            self._error = error
            self._loop.close()
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _start(self) -> None:
        from amqtt.broker import Broker  # made on this loop: its futures belong to it

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                f"{__name__}.DatabaseAuthPlugin": {"broker_key": self._key},
                f"{__name__}.TopicGrantPlugin": {"broker_key": self._key},
            },
        }
        self._broker = Broker(config)
        await self._broker.start()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the broker binds it a moment later)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def local_url(host: str, port: int) -> str:
    """mqtt:// URL of a broker listening on host:port, for a client on this machine: a wildcard
    address is reached on loopback, an IPv6 address in brackets."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"mqtt://[{host}]:{port}" if ":" in host else f"mqtt://{host}:{port}"


class DatabaseAuthPlugin(BaseAuthPlugin):
    """amqtt authentication by the broker's `login` (stored hashes), never anonymous."""

    @dataclass
    class Config:
        broker_key: str = ""

    async def authenticate(self, *, session) -> bool:
        broker = _BROKERS.get(self.config.broker_key)
        if broker is None:
            return False
        check = broker.login
        args = (session.client_id, session.username, session.password)
        return await asyncio.get_running_loop().run_in_executor(None, check, *args)


class TopicGrantPlugin(BaseTopicPlugin):
    """amqtt topic checking by the broker's `allowed` (each user's own topics)."""

    @dataclass
    class Config:
        broker_key: str = ""

    async def topic_filtering(self, *, session=None, topic=None, action=None) -> bool:
        broker = _BROKERS.get(self.config.broker_key)
        client_id = session.client_id if session is not None else None
        return broker is not None and broker.allowed(client_id, topic, action)


def database_lookup(app: Flask | None = None) -> Lookup:
    """A Lookup over the app's (default: the current app's) devices and broker accounts, each
    call in its own app context: the broker's thread has none."""
    from central.extensions import db
    from central.stations import store

    app = app or current_app._get_current_object()

    def lookup(user: str) -> tuple[str, dict[str, tuple[str, ...]]] | None:
        with app.app_context():
            try:
                account = store.find_account(db.session, user)
                if account is not None:
                    return account.password_hash, credentials.service_topics()
                device = store.find_device(db.session, user)
                if device is None or not device.active:
                    return None
                return device.password_hash, credentials.device_topics(device.station.code, user)
            finally:
                db.session.remove()

    return lookup


def filter_within(requested: str, allowed: str) -> bool:
    """Whether subscribing to `requested` can only ever deliver topics `allowed` matches: level
    by level equal, or `allowed` has '+' where `requested` has no '#'."""
    wanted, granted = requested.split("/"), allowed.split("/")
    if len(wanted) != len(granted):
        return False
    return all(g == w or (g == "+" and w != "#") for w, g in zip(wanted, granted, strict=True))


def secrets_equal(given: str, expected: str) -> bool:
    """Constant-time comparison of two passwords."""
    return hmac.compare_digest(given.encode(), expected.encode())


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host`."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def probe_bind(host: str, port: int) -> None:
    """BindError unless host:port can be listened on now (as asyncio will, SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise BindError(bind_problem(host, port, error)) from None


def bind_problem(host: str, port: int, error: BaseException | None) -> str:
    """One line saying the embedded broker cannot listen, and what to set."""
    cause = error
    while cause is not None and not isinstance(cause, OSError) and cause.__cause__ is not None:
        cause = cause.__cause__
    why = getattr(cause, "strerror", None) or str(cause or "timed out")
    return (
        f"ZAMIO_MQTT_BIND={host}:{port}: the embedded broker cannot listen there ({why}); is"
        " another broker (an installed Mosquitto?) on that port? Set ZAMIO_MQTT_BIND to a free"
        " host:port, or ZAMIO_MQTT_URL to use that broker"
    )
