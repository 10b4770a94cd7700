"""The uplink: drains the spool to the broker over MQTT (5 or 3.1.1), QoS 1; keeps the status.

One thread owns the paho client (paho-mqtt 2.x; MQTT 5, or 3.1.1 with `protocol = "3.1.1"` for a
broker without MQTT 5 such as central's embedded amqtt). A message counts as delivered only when
the broker's PUBACK says it was stored: under MQTT 5 reason 0 (Success) alone. Reason 16 "No
matching subscribers" (e.g. a broker just restarted, before central's ingest subscribed again)
is retried after NO_SUBSCRIBERS_RETRY_S_MIN, doubling up to NO_SUBSCRIBERS_RETRY_S_MAX while it
lasts; any other code after REFUSED_RETRY_S. (MQTT 3.1.1 has no reason codes: a PUBACK is all it
says.) A delivered message moves from the spool's pending rows to its delivered-journal, so
whatever happens to the connection or the process, a batch is sent at least once; central drops
the duplicates by (device, source, seq).

    topic                                            qos retain  payload
    stations/{station}/devices/{device}/batches      1   no      HashBatch wire bytes (batch.py)
    stations/{station}/devices/{device}/events       1   no      HealthEvent JSON (health.py)
    stations/{station}/devices/{device}/status       1   yes     heartbeat JSON; last will: offline
    stations/{station}/devices/{device}/commands     1   no      subscribed: central's commands
                                                                 (commands.py), to on_command

Each connection uses a fresh client with clean_start=False and a session expiry (3.1.1:
clean_session=False, kept as long as the broker keeps sessions), so the broker keeps the session
across short drops, and paho's in-memory queue never holds what the spool already holds.
Messages spooled while connected are live and go at once (up to inflight_max unacknowledged);
the backlog left from before the connection drains oldest first at no more than
backlog_rate_max per second, after live messages, so a day of backlog neither floods the broker
nor delays what is on air now; a resend command makes journal rows pending again, and they go
out the same way. Every connect subscribes to the commands topic again (the session keeps the
subscription, but a broker that lost its state would not). Reconnects back off exponentially
with full jitter above backoff_s_min; a refused login is reported once per change of reason,
not once per attempt.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.clock import now_ms
from edge_agent.settings import UplinkSettings
from edge_agent.spool import Spool

logger = logging.getLogger(__name__)

LOOP_TIMEOUT_S = 0.1  # paho's network loop wakes at least this often to publish new messages
CONNECT_TIMEOUT_S = 10.0  # TCP connect plus CONNACK
STABLE_S = 60.0  # a connection that lasted this long resets the backoff
REFUSED_RETRY_S = 60.0  # a message the broker refused (PUBACK >= 0x80) is retried after this
# PUBACK 16 "No matching subscribers": not stored, central is not listening yet; retry soon
NO_SUBSCRIBERS_RETRY_S_MIN = 2.0
NO_SUBSCRIBERS_RETRY_S_MAX = 30.0
PUBACK_SUCCESS = 0
PUBACK_NO_MATCHING_SUBSCRIBERS = 16
KINDS = ("batches", "events", "status", "commands")
# The heartbeat's uplink counters: acked = stored (PUBACK 0), refused = PUBACK >= 0x80,
# no_subscribers = PUBACK 16, commands = messages received on the commands topic.
COUNTERS = ("connects", "published", "acked", "refused", "no_subscribers", "commands")
GOODBYE_WAIT_S = 2.0  # on shutdown, time given to the broker to acknowledge the offline status


def topic_for(station_id: str, device_id: str, kind: str) -> str:
    """The MQTT topic of one kind (one of KINDS) of a device's messages."""
    assert kind in KINDS, kind
    return f"stations/{station_id}/devices/{device_id}/{kind}"


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter above a floor: uniform(base, min(cap, base * 2**n))."""
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt, 30))
    return rng.uniform(base_s, max(base_s, ceiling))


def offline_status(device_id: str, station_id: str, reason: str) -> bytes:
    """The retained status that says the device is gone (last will, or a clean shutdown)."""
    body = {"state": "offline", "device_id": device_id, "station_id": station_id, "reason": reason}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


class _TokenBucket:
    """At most `rate_per_s` takes per second on average, bursts of up to max(1, rate)."""

    def __init__(self, rate_per_s: float, clock: Callable[[], float]) -> None:
        self.rate_per_s = rate_per_s
        self.capacity = max(1.0, rate_per_s)
        self._clock = clock
        self._tokens = self.capacity
        self._at = clock()

    def available(self) -> int:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate_per_s)
        self._at = now
        return int(self._tokens)

    def take(self, count: int) -> None:
        self._tokens -= count


class Uplink:
    """Publishes spooled messages and the device status; runs in its own thread."""

    def __init__(
        self,
        settings: UplinkSettings,
        spool: Spool,
        *,
        device_id: str,
        station_id: str,
        rng: random.Random | None = None,
        on_command: Callable[[bytes], None] | None = None,
    ) -> None:
        """`on_command` gets each commands-topic payload, in the uplink thread."""
        self.settings = settings
        self.spool = spool
        self.device_id = device_id
        self.station_id = station_id
        self.status_topic = topic_for(station_id, device_id, "status")
        self.commands_topic = topic_for(station_id, device_id, "commands")
        self._on_command = on_command
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._status: bytes | None = None
        self._status_dirty = False
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
        self._inflight: dict[int, int] = {}  # paho mid -> spool message_id
        self._refused_until: dict[int, float] = {}  # message_id -> monotonic retry time
        self._connected = False
        self._connected_since_ms: int | None = None
        self._live_from_ms = 0
        self._backlog_maybe = False
        self._bucket = _TokenBucket(settings.backlog_rate_max, time.monotonic)
        self._refusal: str | None = None
        self._unmatched_streak = 0  # PUBACKs with reason 16 since the last success
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.last_error: str | None = None

    # -- public, any thread ----------------------------------------------------------------

    def start(self) -> None:
        """Start the uplink thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Say goodbye (retained offline status) if connected, disconnect, join the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s)

    def is_alive(self) -> bool:
        """The uplink thread runs."""
        return self._thread.is_alive()

    def is_connected(self) -> bool:
        """The broker accepted the current connection and it has not dropped since."""
        return self._connected

    def notify(self) -> None:
        """A message was spooled: publish it soon."""
        self._wake.set()

    def requeue(self) -> None:
        """Old messages became pending again (a resend): look at the backlog again soon."""
        self._backlog_maybe = True
        self._wake.set()

    def set_status(self, status: dict[str, Any]) -> None:
        """Publish this retained status as soon as connected (the latest one wins)."""
        payload = json.dumps(status, separators=(",", ":"), sort_keys=True).encode()
        with self._lock:
            self._status, self._status_dirty = payload, True
        self._wake.set()

    def snapshot(self) -> dict[str, Any]:
        """The uplink's part of the heartbeat."""
        return {
            "connected": self._connected,
            "connected_since_ms": self._connected_since_ms,
            "inflight": len(self._inflight),
            "last_error": self.last_error,
            **self.counters,
        }

    # -- the uplink thread -----------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._session()
            except Exception:  # the thread must outlive any bug in one session
                logger.exception("uplink: session failed")
            if self._stop.is_set():
                break
            attempt = 0 if time.monotonic() - started > STABLE_S else attempt + 1
            delay_s = backoff_s(
                attempt, self.settings.backoff_s_min, self.settings.backoff_s_max, self._rng
            )
            logger.debug("uplink: reconnecting in %.1f s", delay_s)
            self._stop.wait(delay_s)

    def _session(self) -> None:
        """One connection: connect, publish until it drops or we stop."""
        client = self._new_client()
        try:
            if not self._connect(client):
                return
            while not self._stop.is_set():
                rc = client.loop(LOOP_TIMEOUT_S)
                if rc != mqtt.MQTT_ERR_SUCCESS or not self._connected:
                    self._report(f"connection lost: {mqtt.error_string(rc)}")
                    return
                self._pump(client)
            self._goodbye(client)
        finally:
            self._connected = False
            self._connected_since_ms = None
            self._inflight.clear()
            client.disconnect()
            client.loop(0.01)

    def _new_client(self) -> mqtt.Client:
        """A paho client with credentials, TLS, the last will and our callbacks."""
        s = self.settings
        v311 = s.protocol == "3.1.1"  # a persistent session; 3.1.1 has no clean_start or expiry
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=s.client_id or f"zamio-agent-{self.device_id}",
            protocol=mqtt.MQTTv311 if v311 else mqtt.MQTTv5,
            clean_session=False if v311 else None,
        )
        client.connect_timeout = CONNECT_TIMEOUT_S
        client.max_inflight_messages_set(s.inflight_max + 2)  # + status and goodbye
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set(
                ca_certs=str(s.ca_file) if s.ca_file else None,
                certfile=str(s.cert_file) if s.cert_file else None,
                keyfile=str(s.key_file) if s.key_file else None,
            )
        offline = offline_status(self.device_id, self.station_id, "connection lost")
        client.will_set(self.status_topic, offline, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _session_args(self) -> dict:
        """MQTT 5's connect arguments for a persistent session (3.1.1 set it on the client)."""
        if self.settings.protocol == "3.1.1":
            return {}
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.settings.session_expiry_s
        return {"clean_start": False, "properties": properties}

    def _connect(self, client: mqtt.Client) -> bool:
        """TCP connect and wait for CONNACK; False (with the reason recorded) on failure."""
        s = self.settings
        where = f"{s.host}:{s.port}"
        self._refusal = None
        try:
            client.connect(s.host, s.port, s.keepalive_s, **self._session_args())
        except (OSError, ssl.SSLError) as error:
            self._report(f"broker unreachable at {where}: {error}")
            return False
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        rc = mqtt.MQTT_ERR_SUCCESS
        while not self._connected and self._refusal is None and time.monotonic() < deadline:
            rc = client.loop(LOOP_TIMEOUT_S)
            if self._stop.is_set() or rc != mqtt.MQTT_ERR_SUCCESS:
                break
        if self._connected:
            return True
        if self._refusal is not None:
            self._report(f"broker at {where} refused the connection: {self._refusal}")
        elif rc != mqtt.MQTT_ERR_SUCCESS:
            hint = " (with TLS: was the client certificate rejected?)" if self.settings.tls else ""
            self._report(
                f"broker at {where} closed the connection before accepting it: "
                f"{mqtt.error_string(rc)}{hint}"
            )
        elif not self._stop.is_set():
            self._report(f"broker at {where} did not answer within {CONNECT_TIMEOUT_S:g} s")
        return False

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refusal = str(reason_code)
            return
        self._connected = True
        self._connected_since_ms = self._live_from_ms = now_ms()
        self._backlog_maybe = True
        self._bucket = _TokenBucket(self.settings.backlog_rate_max, time.monotonic)
        self.counters["connects"] += 1
        with self._lock:
            self._status_dirty = self._status is not None
        client.subscribe(self.commands_topic, qos=1)
        logger.info(
            "uplink: connected to %s:%d (MQTT %s, session present: %s)",
            self.settings.host,
            self.settings.port,
            self.settings.protocol,
            "yes" if flags.session_present else "no",
        )
        self.last_error = None

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            logger.warning(
                "uplink: broker refused the subscription to %s: %s: resend requests from"
                " central will not reach this agent",
                self.commands_topic,
                ", ".join(refused),
            )

    def _on_message(self, client, userdata, message) -> None:
        if message.topic != self.commands_topic or self._on_command is None:
            return
        self.counters["commands"] += 1
        try:
            self._on_command(message.payload)
        except Exception:  # else the command is never acknowledged and comes back forever
            logger.exception("uplink: command on %s failed", self.commands_topic)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected = False

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        message_id = self._inflight.pop(mid, None)
        if message_id is None:
            return  # a status message
        if reason_code.value == PUBACK_NO_MATCHING_SUBSCRIBERS:
            self._not_stored(message_id)
            return
        if reason_code.value != PUBACK_SUCCESS:
            self.counters["refused"] += 1
            self._retry_later(message_id, REFUSED_RETRY_S)
            self._report(f"broker refused message {message_id}: {reason_code}")
            return
        if self._unmatched_streak:
            logger.info("uplink: central stores messages again")
            self._unmatched_streak = 0
        self.spool.ack(message_id, now_ms())
        self.counters["acked"] += 1
        self._wake.set()  # room for another

    def _not_stored(self, message_id: int) -> None:
        """PUBACK 16: nobody subscribed, so the broker dropped it; keep it pending, retry soon."""
        self.counters["no_subscribers"] += 1
        delay_s = min(
            NO_SUBSCRIBERS_RETRY_S_MAX,
            NO_SUBSCRIBERS_RETRY_S_MIN
            * 2.0 ** min(self._unmatched_streak // self.settings.inflight_max, 10),
        )
        if not self._unmatched_streak:
            logger.warning(
                "uplink: broker has no subscriber for our messages (central not listening?):"
                " not delivered, retrying every %g s or more",
                delay_s,
            )
        self._unmatched_streak += 1
        self._retry_later(message_id, delay_s)

    def _retry_later(self, message_id: int, delay_s: float) -> None:
        """Hold a message back for delay_s; the pump keeps looking until it is due again, even
        if nothing new is spooled meanwhile."""
        self._refused_until[message_id] = time.monotonic() + delay_s
        self._backlog_maybe = True

    def _pump(self, client: mqtt.Client) -> None:
        """Publish the status if it changed, then live messages, then some backlog."""
        self._publish_status(client)
        if not (self._wake.is_set() or self._backlog_maybe):
            return
        self._wake.clear()
        room = self.settings.inflight_max - len(self._inflight)
        if room <= 0:
            return
        blocked = self._blocked_ids()
        live = self.spool.pending(room, created_ms_min=self._live_from_ms, exclude_ids=blocked)
        self._publish(client, live)
        room -= len(live)
        tokens = min(room, self._bucket.available())
        if self._backlog_maybe and tokens > 0:
            backlog = self.spool.pending(
                tokens, created_ms_max=self._live_from_ms, exclude_ids=blocked
            )
            self._backlog_maybe = len(backlog) == tokens or bool(self._refused_until)
            self._bucket.take(len(backlog))
            self._publish(client, backlog)

    def _blocked_ids(self) -> set[int]:
        """Messages in flight, or refused and not yet due again."""
        now = time.monotonic()
        self._refused_until = {m: t for m, t in self._refused_until.items() if t > now}
        return set(self._inflight.values()) | set(self._refused_until)

    def _publish(self, client: mqtt.Client, messages: list) -> None:
        for message in messages:
            info = client.publish(message.topic, message.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return
            self._inflight[info.mid] = message.message_id
            self.counters["published"] += 1

    def _publish_status(self, client: mqtt.Client) -> None:
        with self._lock:
            payload, dirty = self._status, self._status_dirty
            self._status_dirty = False
        if dirty and payload is not None:
            client.publish(self.status_topic, payload, qos=1, retain=True)

    def _goodbye(self, client: mqtt.Client) -> None:
        """Clean shutdown: replace the retained status with offline before disconnecting."""
        payload = offline_status(self.device_id, self.station_id, "shutdown")
        info = client.publish(self.status_topic, payload, qos=1, retain=True)
        deadline = time.monotonic() + GOODBYE_WAIT_S
        while not info.is_published() and time.monotonic() < deadline:
            if client.loop(LOOP_TIMEOUT_S) != mqtt.MQTT_ERR_SUCCESS:
                return

    def _report(self, error: str) -> None:
        """Log a connection problem once per change of wording; keep it for the heartbeat."""
        if error != self.last_error:
            logger.error("uplink: %s", error)
        self.last_error = error
