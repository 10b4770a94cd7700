"""The MQTT listener: a shared subscription to every device's batches, status and events; store,
then acknowledge; and the resend requests for the gaps the seq accounting finds.

Several `zamio ingest` processes may run: the broker hands each message of the shared
subscription `$share/zamio-ingest/...` to one of them. A message is acknowledged (PUBACK, paho's
manual_ack) only after its row is committed, so a listener that dies mid-message gets it again
(from the broker) rather than losing it; storing is idempotent, so that is harmless. The callback
stores and hands the new row's id to `on_stored` (which enqueues matching), and the station of a
source_ended/source_stopped event to `on_settled` (which enqueues its update_plays, so plays at
the end of a source close at once rather than at the next sweep); nothing else.
Status and events (central/monitoring/store.py) are stored and acknowledged the same way; a
retained status the broker replays on subscribe is stored only if newer than the stored one.

Failures are of two kinds. Permanent: the payload itself is refused (validate.py, or the
database refuses a checked batch: DataError, IntegrityError) and is quarantined and acknowledged.
Transient: the database is away. Then the listener stops consuming: it disconnects without
acknowledging (MQTT redelivers every unacknowledged message when the persistent session resumes),
probes the database with backoff, and reconnects when it answers. The session (clean_start=False,
SESSION_EXPIRY_S) and the subscriptions renewed on every connect survive a broker restart too.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from flask import Flask
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import exc, text

from central.config import redact_url
from central.extensions import db
from central.ingest import accounting
from central.ingest.accounting import DEFAULT_POLICY, Policy
from central.ingest.store import QUARANTINED, STORED, Outcome, ingest_payload, quarantine
from central.monitoring.store import (
    EVENT,
    EVENT_DUPLICATE,
    STATUS,
    STATUS_IGNORED,
    record_event,
    record_status,
)
from central.times import now_ms

logger = logging.getLogger(__name__)

SHARE_GROUP = "zamio-ingest"
BATCH_TOPICS = "stations/+/devices/+/batches"
HEALTH_TOPICS = ("stations/+/devices/+/status", "stations/+/devices/+/events")
SESSION_EXPIRY_S = 86_400  # the broker keeps our session and queue this long while we are away
RECONNECT_DELAY_S_MIN = 0.5  # first wait after losing the broker; it doubles
RECONNECT_DELAY_S_MAX = 4.0  # so a restarted broker is back in use within seconds
PROBE_DELAY_S_MIN = 0.5  # first wait between two database probes while paused; it doubles
PROBE_DELAY_S_MAX = 10.0
PAUSE_DELAY_S_MAX = 30.0  # pauses in a row with nothing stored wait at least this long
RESEND_POLL_S = 5.0  # how often due gaps are looked for
# A message that fails this many times in a row with an error that is no outage (the database
# answered the probe at once) is a poison message, not a fault to wait out: it is quarantined
# (`ingest_error`) and acknowledged, so one payload cannot stop ingest for every station.
POISON_FAILURES_MAX = 3
# The database is away, not the payload wrong: keep the message unacknowledged and pause.
TRANSIENT = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)
PERMANENT = (exc.DataError, exc.IntegrityError)  # the database refuses this payload for good

# What the listener is doing, in `IngestListener.state` and its log
STARTING, CONNECTING, RUNNING = "starting", "connecting", "running"
BROKER_UNREACHABLE, BROKER_REFUSED = "broker_unreachable", "broker_refused"
PAUSED, STOPPED = "paused", "stopped"


def is_transient(error: BaseException) -> bool:
    """Does `error` say the database (or the network to it) is away, rather than the payload?"""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, (*TRANSIENT, ConnectionError))


def shared_topic(group: str = SHARE_GROUP) -> str:
    """The shared subscription every listener of `group` joins."""
    return f"$share/{group}/{BATCH_TOPICS}"


def shared_topics(group: str = SHARE_GROUP) -> list[str]:
    """Every shared subscription of `group`: batches, then the devices' status and events."""
    return [shared_topic(group)] + [f"$share/{group}/{topic}" for topic in HEALTH_TOPICS]


def default_client_id() -> str:
    """`zamio-ingest-<host>`: stable across restarts, so a restarted listener takes back its
    session and the messages the broker queued for it. A process id in it would leave the old
    session in the share group, taking its share of new messages that nobody reads."""
    return f"zamio-ingest-{socket.gethostname()}"


class IngestListener:
    """Subscribes, stores every batch, status and event message, acknowledges it, asks devices
    for their missing seqs; until stop(). Reconnects, and pauses for the database, by itself."""

    def __init__(
        self,
        app: Flask,
        mqtt_url: str,
        on_stored: Callable[[int], None],
        client_id: str | None = None,
        clock_ms: Callable[[], int] = now_ms,
        protocol: str = "5",
        policy: Policy = DEFAULT_POLICY,
        resend_poll_s: float = RESEND_POLL_S,
        on_settled: Callable[[int], None] = lambda station_pk: None,
    ) -> None:
        self.app = app
        self.protocol = protocol  # "5", or "3.1.1" for the embedded broker
        self.url = urlsplit(mqtt_url)
        self.shown_url = redact_url(mqtt_url)
        self.on_stored = on_stored
        self.on_settled = on_settled
        self.clock_ms = clock_ms
        self.policy = policy
        self.resend_poll_s = resend_poll_s
        self.client_id = client_id or default_client_id()
        self.counts = {"stored": 0, "duplicate": 0, "conflict": 0, "quarantined": 0, "failed": 0}
        self.counts.update(dict.fromkeys((STATUS, STATUS_IGNORED, EVENT, EVENT_DUPLICATE), 0))
        self.counts.update(paused=0, resend_requests=0)
        self.state = STARTING
        self.subscribed = threading.Event()
        self._stopping = threading.Event()
        self._paused_at: float | None = None  # monotonic s the database went away
        self._pauses_in_row = 0
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        # MQTT 3.1.1 (the embedded broker): a persistent session, so the broker queues what we
        # miss; MQTT 5 asks for the same with clean_start=False and a session expiry (_connect).
        v311 = self.protocol == "3.1.1"
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv311 if v311 else mqtt.MQTTv5,
            clean_session=False if v311 else None,
            manual_ack=True,
        )
        if self.url.username:
            client.username_pw_set(self.url.username, self.url.password)
        if self.url.scheme == "mqtts":
            client.tls_set()
        client.reconnect_delay_set(RECONNECT_DELAY_S_MIN, RECONNECT_DELAY_S_MAX)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = lambda *_: self.subscribed.set()
        client.on_message = self._on_message
        return client

    def run(self) -> None:
        """Connect and process messages until stop(); reconnects, and waits out a database
        outage, by itself."""
        requester = threading.Thread(target=self._request_loop, name="resend", daemon=True)
        requester.start()
        while not self._stopping.is_set():
            self._connect()
            if self._stopping.is_set():  # stop() came before connect_async: nothing to end
                break
            self._client.loop_forever(retry_first_connection=True)
            if self._paused_at is not None and not self._stopping.is_set():
                self._wait_for_database()
        self._set_state(STOPPED)
        requester.join()

    def _connect(self) -> None:
        """Start connecting (the loop does it, retrying): a persistent session on MQTT 5 too."""
        host = self.url.hostname or "127.0.0.1"
        port = self.url.port or (8883 if self.url.scheme == "mqtts" else 1883)
        self._set_state(CONNECTING)
        if self.protocol == "3.1.1":
            self._client.connect_async(host, port, keepalive=30)
            return
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._client.connect_async(
            host, port, keepalive=30, clean_start=False, properties=properties
        )

    def stop(self) -> None:
        """Disconnect; run() returns."""
        self._stopping.set()
        self._client.disconnect()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            logger.info("ingest: %s (was %s)", state, self.state)
            self.state = state

    def _on_connect_fail(self, client, userdata) -> None:
        if self.state != BROKER_UNREACHABLE:  # once per outage, not once per attempt
            logger.error(
                "ingest: cannot reach the MQTT broker at %s (ZAMIO_MQTT_URL); "
                "retrying every %g s at most",
                self.shown_url,
                RECONNECT_DELAY_S_MAX,
            )
            self._set_state(BROKER_UNREACHABLE)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._stopping.is_set() or self._paused_at is not None or self.state != RUNNING:
            return  # our own disconnect, or a failed attempt (already said)
        logger.warning(
            "ingest: lost the broker at %s (%s); reconnecting", self.shown_url, reason_code
        )
        self._set_state(CONNECTING)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if self.state != BROKER_REFUSED:  # once, not at every retry
                logger.error(
                    "ingest: the broker at %s (ZAMIO_MQTT_URL) refused the connection: %s",
                    self.shown_url,
                    reason_code,
                )
                self._set_state(BROKER_REFUSED)
            return
        # Subscribe on every connect, session present or not: a broker restarted without our
        # session (or with it, but without its shared subscriptions) would else send us nothing.
        # MQTT 3.1.1 has no shared subscriptions: with the embedded broker one listener hears all
        topics = shared_topics() if self.protocol != "3.1.1" else [BATCH_TOPICS, *HEALTH_TOPICS]
        client.subscribe([(topic, 1) for topic in topics])  # one SUBACK: `subscribed` means all
        logger.info(
            "ingest: subscribed to %s as %s (session present: %s)",
            ", ".join(topics),
            self.client_id,
            flags.session_present,
        )
        self._set_state(RUNNING)

    def _on_message(self, client, userdata, message) -> None:
        if self._paused_at is not None:
            return  # not acknowledged: the broker delivers it again after the pause
        try:
            outcome = self._store(message)
        except Exception as error:  # the database is away (or a bug): pause, no ack
            if is_transient(error) or self._pauses_in_row < POISON_FAILURES_MAX:
                self._pause(error, message.topic)
                return
            outcome = self._poisoned(message, error)
        self._pauses_in_row = 0
        self.counts[outcome.kind] += 1
        if outcome.kind == QUARANTINED:
            logger.warning("ingest: %s: quarantined: %s", message.topic, outcome.reason)
        client.ack(message.mid, message.qos)
        if outcome.kind == STORED:
            self._hand_on(self.on_stored, outcome.batch_pk, "batch %d stored, not enqueued")
        if outcome.settles_station is not None:
            self._hand_on(self.on_settled, outcome.settles_station, "station %d: plays not swept")

    def _hand_on(self, callback: Callable[[int], None], pk: int, what: str) -> None:
        """Hand a stored row on; a failure there (Redis down) loses nothing: the periodic
        sweeps match stored batches never matched and close plays that can close."""
        try:
            callback(pk)
        except Exception as error:
            logger.error(f"ingest: {what}: %s", pk, error)

    def _pause(self, error: Exception, topic: str) -> None:
        """Stop consuming until the database answers: disconnect, leaving messages unacked."""
        self.counts["failed"] += 1
        self.counts["paused"] += 1
        self._pauses_in_row += 1
        self._paused_at = time.monotonic()
        if is_transient(error):
            logger.error("ingest: database unavailable (%s); paused", _first_line(error))
        else:
            logger.exception("ingest: %s: not stored (%s); paused", topic, type(error).__name__)
        self._set_state(PAUSED)
        with self.app.app_context():
            db.engine.dispose()  # its pooled connections died with the database
        self._client.disconnect()

    def _wait_for_database(self) -> None:
        """Probe the database with backoff until it answers (or stop()), then resume."""
        assert self._paused_at is not None
        # a fault that is no outage (the database answers at once) must not spin: wait longer
        delay_s = min(PROBE_DELAY_S_MIN * 2 ** (self._pauses_in_row - 1), PAUSE_DELAY_S_MAX)
        while not self._stopping.wait(delay_s):
            if self._database_answers():
                down_s = time.monotonic() - self._paused_at
                logger.info("ingest: database back after %.0f s; resuming", down_s)
                break
            delay_s = min(delay_s * 2, PROBE_DELAY_S_MAX)
        self._paused_at = None

    def _database_answers(self) -> bool:
        with self.app.app_context():
            try:
                db.session.execute(text("SELECT 1"))
                return True
            except exc.SQLAlchemyError:
                return False
            finally:
                db.session.remove()

    def _store(self, message: mqtt.MQTTMessage) -> Outcome:
        """One transaction: the message's row (or its quarantine) is committed before the ack;
        a checked batch the database still refuses is quarantined in a fresh one."""
        try:
            return self._commit(lambda: self._record(message))
        except PERMANENT as error:
            detail = f"{type(error).__name__}: {_first_line(error.orig or error)}"
            return self._commit(lambda: self._refuse(message, detail))

    def _commit(self, work: Callable[[], Outcome]) -> Outcome:
        with self.app.app_context():
            try:
                outcome = work()
                db.session.commit()
            except Exception:
                db.session.rollback()
                raise
        return outcome

    def _refuse(self, message: mqtt.MQTTMessage, detail: str, reason="storage_refused") -> Outcome:
        quarantine(db.session, message.topic, message.payload, reason, detail)
        return Outcome(QUARANTINED, reason=reason)

    def _poisoned(self, message: mqtt.MQTTMessage, error: Exception) -> Outcome:
        """Quarantine a message that keeps failing while the database answers (a bug, not an
        outage), with the error, so the ones behind it go on being stored."""
        logger.error("ingest: %s: failed %d times in a row; quarantined", message.topic,
                     self._pauses_in_row + 1, exc_info=error)  # fmt: skip
        detail = f"{type(error).__name__}: {_first_line(error)}"
        return self._commit(lambda: self._refuse(message, detail, "ingest_error"))

    def _record(self, message: mqtt.MQTTMessage) -> Outcome:
        """Store by the topic's last level: status, events, else a batch (ingest checks it)."""
        topic, payload, now_ms = message.topic, message.payload, self.clock_ms()
        kind = topic.rsplit("/", 1)[-1]
        if kind == "status":
            return record_status(db.session, topic, payload, now_ms, retained=message.retain)
        if kind == "events":
            return record_event(db.session, topic, payload, now_ms, self.policy)
        return ingest_payload(db.session, topic, payload, now_ms, self.policy)

    def _request_loop(self) -> None:
        """Every resend_poll_s while connected: claim the due gaps, publish their requests."""
        while not self._stopping.wait(self.resend_poll_s):
            if self.state != RUNNING or self._paused_at is not None:
                continue
            try:
                self.request_due()
            except Exception as error:  # the database went away: the message path pauses
                logger.warning("ingest: resend requests not sent: %s", _first_line(error))

    def request_due(self) -> int:
        """Claim the due gaps (committed first, so no other listener takes them) and publish
        their resend commands; how many were published."""
        with self.app.app_context():
            try:
                requests = accounting.claim_due(db.session, self.clock_ms(), self.policy)
                db.session.commit()
            except Exception:
                db.session.rollback()
                raise
        for request in requests:  # QoS 1, through paho's queue: sent once connected
            self._client.publish(request.topic, request.payload, qos=1)
            logger.info("ingest: %s: %s", request.topic, request.payload.decode())
        self.counts["resend_requests"] += len(requests)
        return len(requests)


def _first_line(error: BaseException) -> str:
    """An error's message without the SQL and the background link SQLAlchemy adds."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
