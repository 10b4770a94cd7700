"""Each service fixture works against the real service and isolates one test from the next."""

from __future__ import annotations

import queue
import socket
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from central import schema
from central.catalog import store
from central.catalog.models import Track
from central.extensions import db
from edge_agent.fingerprint import Fingerprints
from tests.integration.conftest import HOST, require_service

pytestmark = pytest.mark.integration

ROUNDS = ["first", "second"]  # run twice: whichever runs second proves the first was cleaned up


@pytest.mark.parametrize("round_name", ROUNDS)
def test_postgres_database_is_migrated_and_emptied_between_tests(
    pg_app: Flask, round_name: str
) -> None:
    """pg_app is PostgreSQL at the head revision, with no rows left by an earlier test."""
    with pg_app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert not schema.is_behind(db.engine)
        assert db.session.scalar(select(func.count()).select_from(Track)) == 0
        track = store.register_track(
            db.session,
            external_id=f"fixture-{round_name}",
            title="t",
            artist=None,
            isrc=None,
            duration_ms=1,
            content_hash="0" * 16,
            fingerprints=Fingerprints.empty(),
            fingerprint_version=1,
        )
        db.session.commit()
        assert track.id == 1  # identities restart too


def test_postgres_database_is_throwaway(pg_app: Flask) -> None:
    """The session's database has a random name, never a developer's database."""
    with pg_app.app_context():
        name = db.session.scalar(text("SELECT current_database()"))
    assert name.startswith("zamio_test_") and len(name) == len("zamio_test_") + 12


def test_pg_client_health(pg_client: FlaskClient) -> None:
    """The HTTP client of pg_app reaches a healthy app on PostgreSQL."""
    assert pg_client.get("/health").get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("round_name", ROUNDS)
def test_redis_db_is_flushed_between_tests(
    redis_connection: redis.Redis, redis_test_db: int, round_name: str
) -> None:
    """redis_connection talks to the run's own db number, empty at the start of each test."""
    assert redis_connection.connection_pool.connection_kwargs["db"] == redis_test_db
    assert redis_connection.dbsize() == 0
    redis_connection.set(f"zamio:fixture:{round_name}", b"1")
    assert redis_connection.get(f"zamio:fixture:{round_name}") == b"1"


def test_mqtt_round_trip_under_the_test_prefix(
    mqtt_connect: Callable[..., mqtt.Client], mqtt_topic_prefix: str
) -> None:
    """A QoS 1 message published under the test's prefix reaches a subscriber of that prefix."""
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed: queue.Queue[bool] = queue.Queue()
    subscriber = mqtt_connect()
    subscriber.on_message = lambda client, userdata, message: received.put(message)
    subscriber.on_subscribe = lambda client, userdata, mid, codes, props: subscribed.put(True)
    subscriber.subscribe(f"{mqtt_topic_prefix}/#", qos=1)
    assert subscribed.get(timeout=5)
    publisher = mqtt_connect()
    publisher.publish(f"{mqtt_topic_prefix}/stations/s1/status", b"online", qos=1).wait_for_publish(
        5
    )
    message = received.get(timeout=5)
    assert (message.topic, message.payload) == (
        f"{mqtt_topic_prefix}/stations/s1/status",
        b"online",
    )


def test_mqtt_topic_prefix_is_unique(mqtt_topic_prefix: str) -> None:
    """The prefix sits under zamio-test/ with a random part, so tests never share topics."""
    assert mqtt_topic_prefix.startswith("zamio-test/") and len(mqtt_topic_prefix) > 20


def _unused_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_unreachable_service_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    """A missing service is never a silent skip in CI (CI=true): the test fails instead."""
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="Nothing unreachable"):
        require_service("Nothing", _unused_port())
