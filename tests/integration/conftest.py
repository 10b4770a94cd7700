"""Real services, isolated per test: PostgreSQL (a throwaway database), Redis (a flushed db
number) and Mosquitto (a topic prefix per test). Unreachable: skip, or fail when CI=true."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator

import flask_migrate
import paho.mqtt.client as mqtt
import psycopg2
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text

from central import create_app
from central.extensions import MIGRATIONS_DIR, db
from tests.conftest import disposed, unavailable

HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_USER = "postgres"
REDIS_PORT = 6379
# The Redis db number tests own and flush (not 0, the developer's). Concurrent test runs each
# need their own: ZAMIO_TEST_REDIS_DB picks it, and is taken out of the environment at once so
# that central's settings, which refuse unknown ZAMIO_* variables, never see it.
REDIS_TEST_DB = int(os.environ.pop("ZAMIO_TEST_REDIS_DB", "13"))
MQTT_PORT = 1883
MQTT_CONNECT_S_MAX = 5.0


def require_service(name: str, port: int) -> None:
    """Skip the test when `name` does not listen on HOST:port; fail instead when CI=true."""
    try:
        socket.create_connection((HOST, port), timeout=2.0).close()
    except OSError as error:
        message = f"{name} unreachable at {HOST}:{port} ({error}); run `bash scripts/test`"
        unavailable(message)


def _admin_connection() -> psycopg2.extensions.connection:
    """An autocommit connection to the postgres maintenance database."""
    connection = psycopg2.connect(
        host=HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname="postgres"
    )
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, migrated to head, dropped after."""
    require_service("PostgreSQL", POSTGRES_PORT)
    name = f"zamio_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_connection()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg2://{POSTGRES_USER}@{HOST}:{POSTGRES_PORT}/{name}"
    try:
        app = create_app({"DATABASE_URL": url, "TESTING": True})
        with app.app_context():
            flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
        disposed(app)
        yield url
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_app(pg_database_url: str) -> Iterator[Flask]:
    """An app on the session's PostgreSQL database; every table is emptied after the test."""
    # Plays rebuilt after every match: tests work the queue in bursts and look at once.
    app = create_app(
        {"DATABASE_URL": pg_database_url, "TESTING": True, "PLAYS_BUILD_INTERVAL_S": 0}
    )
    yield app
    with app.app_context():
        db.session.remove()
        tables = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
        with db.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    disposed(app)


@pytest.fixture
def pg_client(pg_app: Flask) -> FlaskClient:
    """An HTTP test client of `pg_app`."""
    return pg_app.test_client()


@pytest.fixture
def pg_runner(pg_app: Flask) -> FlaskCliRunner:
    """A CLI runner bound to `pg_app`: invoke `central.cli.cli` with it."""
    return pg_app.test_cli_runner()


@pytest.fixture
def redis_url() -> str:
    """URL of the Redis db number the tests own."""
    return f"redis://{HOST}:{REDIS_PORT}/{REDIS_TEST_DB}"


@pytest.fixture
def redis_connection(redis_url: str) -> Iterator[redis.Redis]:
    """A connection to the tests' Redis db, flushed before and after the test."""
    require_service("Redis", REDIS_PORT)
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture
def mqtt_topic_prefix() -> str:
    """A topic prefix no other test uses: publish and subscribe under it."""
    return f"zamio-test/{uuid.uuid4().hex}"


@pytest.fixture
def mqtt_connect() -> Iterator[Callable[..., mqtt.Client]]:
    """connect(client_id=None) -> a paho client connected to Mosquitto, its loop running."""
    require_service("Mosquitto", MQTT_PORT)
    clients: list[mqtt.Client] = []

    def connect(client_id: str | None = None) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"zamio-test-{uuid.uuid4().hex}",
        )
        client.connect(HOST, MQTT_PORT, keepalive=30)
        client.loop_start()
        clients.append(client)
        _wait_for(client.is_connected, f"MQTT client {client_id} did not connect")
        return client

    yield connect
    for client in clients:
        client.disconnect()
        client.loop_stop()


def _wait_for(
    condition: Callable[[], bool], message: str, timeout_s: float = MQTT_CONNECT_S_MAX
) -> None:
    """Poll `condition` until true; fail the test with `message` after `timeout_s`."""
    deadline_s = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline_s:
            pytest.fail(message)
        time.sleep(0.01)
