"""Real services, isolated per test: PostgreSQL (a throwaway database), Redis (a db number this
run claimed, flushed per test) and Mosquitto (a topic prefix per test). Unreachable: skip, or
fail when CI=true."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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
# The Redis db number a test run owns and flushes. Each run (each xdist worker too) claims a free
# one of REDIS_TEST_DBS with a lock key in db 0 (SET NX with an expiry, deleted at the end), so
# concurrent runs never flush each other's data. ZAMIO_TEST_REDIS_DB forces a number instead; it
# is taken out of the environment at once, as central's settings refuse unknown ZAMIO_* names.
_FORCED_DB = os.environ.pop("ZAMIO_TEST_REDIS_DB", None)
REDIS_TEST_DB_FORCED = None if _FORCED_DB is None else int(_FORCED_DB)
REDIS_TEST_DBS = range(1, 16)  # db 0 is the developer's, and holds the claims
REDIS_CLAIM_PREFIX = "zamio-test:redis-db-claim:"
REDIS_CLAIM_S_MAX = 3 * 3600  # a run killed before it released its db frees it after this
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


def claim_redis_db(
    connection: redis.Redis, owner: str, prefix: str = REDIS_CLAIM_PREFIX
) -> int | None:
    """The first db of REDIS_TEST_DBS no one else has claimed, now claimed by `owner`; or None."""
    for number in REDIS_TEST_DBS:
        if connection.set(f"{prefix}{number}", owner, nx=True, ex=REDIS_CLAIM_S_MAX):
            return number
    return None


# Delete the claim only if it is still ours (it may have expired and been claimed again).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


def release_redis_db(
    connection: redis.Redis, number: int, owner: str, prefix: str = REDIS_CLAIM_PREFIX
) -> None:
    """Give back the db `owner` claimed."""
    connection.eval(_RELEASE, 1, f"{prefix}{number}", owner)


@pytest.fixture(scope="session")
def redis_test_db() -> Iterator[int]:
    """The Redis db number of this run, claimed until the end: ZAMIO_TEST_REDIS_DB's (claimed too,
    so that claiming runs keep off it), or the first free one."""
    require_service("Redis", REDIS_PORT)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
    with redis.Redis(host=HOST, port=REDIS_PORT, db=0) as claims:
        number = REDIS_TEST_DB_FORCED
        if number is None:
            number = claim_redis_db(claims, owner)
        else:
            claims.set(f"{REDIS_CLAIM_PREFIX}{number}", owner, ex=REDIS_CLAIM_S_MAX)
        if number is None:
            unavailable(f"every Redis test db {REDIS_TEST_DBS} is claimed by another test run")
        try:
            yield number
        finally:
            release_redis_db(claims, number, owner)


@pytest.fixture
def redis_url(redis_test_db: int) -> str:
    """URL of the Redis db number this run owns."""
    return f"redis://{HOST}:{REDIS_PORT}/{redis_test_db}"


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


@pytest.fixture
def central_processes(
    tmp_path, pg_database_url: str, redis_url: str, redis_connection
) -> Iterator[Callable[..., subprocess.Popen]]:
    """start(command, broker_port, **env) -> `zamio <command>` as a process on the test's
    PostgreSQL, Redis and the broker at broker_port; extra ZAMIO_* settings as keywords
    (plays_build_interval_s=0 -> ZAMIO_PLAYS_BUILD_INTERVAL_S=0). Stopped after the test."""
    from tests.integration.edge_agent.conftest import stop_process

    started: list[tuple[subprocess.Popen, object]] = []

    def start(command: str, broker_port: int, **settings: object) -> subprocess.Popen:
        env = os.environ | {
            "ZAMIO_DATABASE_URL": pg_database_url,
            "ZAMIO_REDIS_URL": redis_url,
            "ZAMIO_MQTT_URL": f"mqtt://{HOST}:{broker_port}",
            **{f"ZAMIO_{key.upper()}": str(value) for key, value in settings.items()},
        }
        log = (tmp_path / f"{command}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "central", command],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        stop_process(process)
        log.close()
