"""The MQTT listener: a shared subscription to every device's batches, status and events; store,
then acknowledge.

Several `zamio ingest` processes may run: the broker hands each message of the shared
subscription `$share/zamio-ingest/...` to one of them. A message is acknowledged (PUBACK, paho's
manual_ack) only after its row is committed, so a listener that dies mid-message gets it again
(from the broker) rather than losing it; storing is idempotent, so that is harmless. The callback
stores and hands the new row's id to `on_stored` (which enqueues matching); nothing else.
Status and events (central/monitoring/store.py) are stored and acknowledged the same way; a
retained status the broker replays on subscribe is stored only if newer than the stored one.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from flask import Flask
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from central.extensions import db
from central.ingest.store import QUARANTINED, STORED, Outcome, ingest_payload
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
SESSION_EXPIRY_S = 3600  # the broker keeps our queue this long while we are away


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
    """Subscribes, stores every batch, status and event message, acknowledges it; until stop()."""

    def __init__(
        self,
        app: Flask,
        mqtt_url: str,
        on_stored: Callable[[int], None],
        client_id: str | None = None,
        clock_ms: Callable[[], int] = now_ms,
        protocol: str = "5",
    ) -> None:
        self.app = app
        self.protocol = protocol  # "5", or "3.1.1" for the embedded broker
        self.url = urlsplit(mqtt_url)
        self.on_stored = on_stored
        self.clock_ms = clock_ms
        self.client_id = client_id or default_client_id()
        self.counts = {"stored": 0, "duplicate": 0, "conflict": 0, "quarantined": 0, "failed": 0}
        self.counts.update(dict.fromkeys((STATUS, STATUS_IGNORED, EVENT, EVENT_DUPLICATE), 0))
        self.subscribed = threading.Event()
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        # MQTT 3.1.1 (the embedded broker): a persistent session, so the broker queues what we
        # miss; MQTT 5 asks for the same with clean_start=False and a session expiry (run()).
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
        client.reconnect_delay_set(1, 60)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self.subscribed.set()
        client.on_message = self._on_message
        return client

    def run(self) -> None:
        """Connect and process messages until stop(); reconnects by itself."""
        host = self.url.hostname or "127.0.0.1"
        port = self.url.port or (8883 if self.url.scheme == "mqtts" else 1883)
        if self.protocol == "3.1.1":
            self._client.connect(host, port, keepalive=30)
        else:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
            self._client.connect(host, port, keepalive=30, clean_start=False, properties=properties)
        self._client.loop_forever(retry_first_connection=True)

    def stop(self) -> None:
        """Disconnect; run() returns."""
        self._client.disconnect()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.error("ingest: broker refused the connection: %s", reason_code)
            return
        # MQTT 3.1.1 has no shared subscriptions: with the embedded broker one listener hears all
        topics = shared_topics() if self.protocol != "3.1.1" else [BATCH_TOPICS, *HEALTH_TOPICS]
        client.subscribe([(topic, 1) for topic in topics])  # one SUBACK: `subscribed` means all
        logger.info("ingest: subscribed to %s as %s", ", ".join(topics), self.client_id)

    def _on_message(self, client, userdata, message) -> None:
        try:
            outcome = self._store(message)
        except Exception:  # the database failed: no ack, the broker will deliver it again
            self.counts["failed"] += 1
            logger.exception("ingest: %s: not stored, will come again", message.topic)
            return
        self.counts[outcome.kind] += 1
        if outcome.kind == QUARANTINED:
            logger.warning("ingest: %s: quarantined: %s", message.topic, outcome.reason)
        client.ack(message.mid, message.qos)
        if outcome.kind == STORED:
            self.on_stored(outcome.batch_pk)

    def _store(self, message: mqtt.MQTTMessage) -> Outcome:
        """One transaction: the message's row (or its quarantine) is committed before the ack."""
        with self.app.app_context():
            try:
                outcome = self._record(message)
                db.session.commit()
            except Exception:
                db.session.rollback()
                raise
        return outcome

    def _record(self, message: mqtt.MQTTMessage) -> Outcome:
        """Store by the topic's last level: status, events, else a batch (ingest checks it)."""
        topic, payload, now_ms = message.topic, message.payload, self.clock_ms()
        kind = topic.rsplit("/", 1)[-1]
        if kind == "status":
            return record_status(db.session, topic, payload, now_ms, retained=message.retain)
        if kind == "events":
            return record_event(db.session, topic, payload, now_ms)
        return ingest_payload(db.session, topic, payload, now_ms)
