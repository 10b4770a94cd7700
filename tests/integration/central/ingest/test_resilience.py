"""The listener outlives what goes wrong around it, on a real Mosquitto and PostgreSQL: a broker
restart, a broker not there yet, a database outage, payloads the columns cannot hold, a batch
the database refuses, and Redis down when matching is enqueued."""

from __future__ import annotations

import logging
import subprocess
import time

import pytest
from flask import Flask
from sqlalchemy import text

from central import create_app, queues
from central.extensions import db
from central.ingest.listener import PAUSED, POISON_FAILURES_MAX, RUNNING, IngestListener
from central.ingest.models import IngestedBatch, QuarantinedPayload
from tests.conftest import disposed
from tests.integration.central.ingest.conftest import (
    TOPIC,
    count,
    publisher,
    start_listener,
    wire_batch,
)
from tests.integration.edge_agent.conftest import HOST, Broker, free_port, wait_until

pytestmark = pytest.mark.integration


def test_every_batch_is_stored_across_a_broker_restart(pg_app: Flask, device, own_broker) -> None:
    """Broker down 8 s and back with its persistence: the listener is back within seconds,
    subscribed again, and every batch published before, during the restart and after is stored."""
    stored: list[int] = []
    listener = IngestListener(pg_app, f"mqtt://{HOST}:{own_broker.port}", stored.append, "ing-r")
    start_listener(listener)
    client = publisher(own_broker.port)
    try:
        for seq in range(10):
            client.publish(TOPIC, wire_batch(seq), qos=1)
        wait_until(lambda: len(stored) == 10, 15, "the first ten batches")
        listener.subscribed.clear()
        own_broker.stop()
        time.sleep(8)  # a 1, 2, 4, 8 s backoff would try next 7 s after the restart
        own_broker.start()
        assert listener.subscribed.wait(5), "the listener did not re-subscribe within 5 s"
        for seq in range(10, 30):
            client.publish(TOPIC, wire_batch(seq), qos=1)
        wait_until(lambda: len(stored) == 30, 15, "all thirty batches")
        assert listener.state == RUNNING
    finally:
        client.loop_stop()
        client.disconnect()
        listener.stop()
    assert count(pg_app, IngestedBatch) == 30


def test_a_broker_not_up_yet_is_named_once_and_waited_for(
    pg_app: Flask, device, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """No broker at the URL: one line naming it (password hidden) and ZAMIO_MQTT_URL, no crash;
    when the broker starts, the listener connects and stores."""
    caplog.set_level(logging.INFO)
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")  # not started: its port refuses connections
    stored: list[int] = []
    url = f"mqtt://svc:s3cret@{HOST}:{broker.port}"
    listener = IngestListener(pg_app, url, stored.append, "ing-u")
    thread = start_listener(listener, subscribe=False)
    try:
        wait_until(lambda: listener.state == "broker_unreachable", 5, "broker_unreachable")
        time.sleep(2)  # several attempts: still one line
        lines = [r.getMessage() for r in caplog.records if "cannot reach" in r.getMessage()]
        assert len(lines) == 1 and thread.is_alive()
        assert f"mqtt://svc:***@{HOST}:{broker.port}" in lines[0] and "ZAMIO_MQTT_URL" in lines[0]
        assert "s3cret" not in caplog.text
        broker.start()
        assert listener.subscribed.wait(8), "the listener did not connect once the broker was up"
        client = publisher(broker.port)
        client.publish(TOPIC, wire_batch(0), qos=1)
        wait_until(lambda: len(stored) == 1, 10, "the batch stored")
        client.loop_stop()
        client.disconnect()
    finally:
        listener.stop()
        broker.stop()


def test_a_database_outage_pauses_and_resumes_without_losing_a_batch(
    pg_app: Flask, pg_database_url: str, device, own_broker, postgres_link, caplog
) -> None:
    """PostgreSQL cut for 3 s while batches arrive: the listener says so once, pauses, and
    when the database answers again stores every batch, by itself, and says it resumed."""
    caplog.set_level(logging.INFO)
    url = pg_database_url.replace(f":{5432}/", f":{postgres_link.port}/")
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    stored: list[int] = []
    listener = IngestListener(app, f"mqtt://{HOST}:{own_broker.port}", stored.append, "ing-db")
    start_listener(listener)
    client = publisher(own_broker.port)
    try:
        for seq in range(5):
            client.publish(TOPIC, wire_batch(seq), qos=1)
        wait_until(lambda: len(stored) == 5, 15, "the first five batches")
        postgres_link.cut()
        for seq in range(5, 45):  # more than the broker's in-flight window of 20
            client.publish(TOPIC, wire_batch(seq), qos=1)
        wait_until(lambda: listener.state == PAUSED, 10, "the listener to pause")
        time.sleep(3)
        postgres_link.restore()
        wait_until(lambda: count(pg_app, IngestedBatch) == 45, 30, "all 45 batches stored")
        wait_until(lambda: listener.state == RUNNING, 10, "the listener running again")
    finally:
        client.loop_stop()
        client.disconnect()
        listener.stop()
        disposed(app)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("database unavailable" in m and m.endswith("paused") for m in messages) == 1
    assert any("database back after" in m and m.endswith("resuming") for m in messages)
    assert count(pg_app, QuarantinedPayload) == 0 and len(stored) == 45


def test_payloads_past_their_columns_are_quarantined_and_the_rest_stored(
    pg_app: Flask, device, own_broker
) -> None:
    """20 batches with seq >= 2**63 and one with a NUL in its source id among 30 good ones:
    the good ones stored, the bad ones quarantined and acknowledged, the listener going on."""
    stored: list[int] = []
    listener = IngestListener(pg_app, f"mqtt://{HOST}:{own_broker.port}", stored.append, "ing-q")
    start_listener(listener)
    client = publisher(own_broker.port)
    try:
        for seq in range(30):
            client.publish(TOPIC, wire_batch(seq), qos=1)
            if seq < 20:
                client.publish(TOPIC, wire_batch(2**63 + seq), qos=1)
            if seq == 10:
                client.publish(TOPIC, wire_batch(seq, source="f\x00m"), qos=1)
        wait_until(lambda: count(pg_app, QuarantinedPayload) == 21, 20, "21 quarantined")
        wait_until(lambda: len(stored) == 30, 20, "the 30 good batches")
        assert listener.state == RUNNING and listener.counts["failed"] == 0
    finally:
        client.loop_stop()
        client.disconnect()
        listener.stop()
    assert count(pg_app, QuarantinedPayload, QuarantinedPayload.reason == "out_of_range") == 20
    assert count(pg_app, QuarantinedPayload, QuarantinedPayload.reason == "bad_source_id") == 1


REFUSE = """
CREATE FUNCTION zamio_test_refuse() RETURNS trigger AS $$
BEGIN
  IF NEW.source_id = 'refused' THEN
    RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'numeric_value_out_of_range';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER zamio_test_refuse BEFORE INSERT ON ingested_batch
  FOR EACH ROW EXECUTE FUNCTION zamio_test_refuse();
"""


POISON = REFUSE.replace(" USING ERRCODE = 'numeric_value_out_of_range'", "")  # InternalError


def good_bad_good(app: Flask, trigger_sql: str, listener: IngestListener, port: int, done) -> str:
    """With `trigger_sql` refusing source 'refused': publish a good batch, a refused one, a
    good one; wait until `done()`; the one quarantined row's reason and detail."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text(trigger_sql))
    start_listener(listener)
    client = publisher(port)
    try:
        for seq, source in ((0, "fm"), (0, "refused"), (1, "fm")):
            client.publish(TOPIC, wire_batch(seq, source=source), qos=1)
        wait_until(lambda: count(app, QuarantinedPayload) == 1, 60, "one quarantined")
        wait_until(lambda: count(app, IngestedBatch) == 2, 15, "the two good batches")
        done()
    finally:
        client.loop_stop()
        client.disconnect()
        listener.stop()
        with app.app_context(), db.engine.begin() as connection:
            connection.execute(text("DROP TRIGGER zamio_test_refuse ON ingested_batch"))
            connection.execute(text("DROP FUNCTION zamio_test_refuse()"))
    with app.app_context():
        (row,) = db.session.scalars(db.select(QuarantinedPayload)).all()
        return f"{row.reason}: {row.detail}"


def test_a_batch_the_database_refuses_is_quarantined_and_redis_down_loses_nothing(
    pg_app: Flask, device, own_broker
) -> None:
    """The database refuses one checked batch (DataError from a trigger): it is quarantined as
    storage_refused and acknowledged; with Redis unreachable, enqueueing fails but every batch
    is stored and the listener carries on."""
    queue = queues.settings_queue(f"redis://{HOST}:{free_port()}/0")  # nothing listens there
    url = f"mqtt://{HOST}:{own_broker.port}"
    listener = IngestListener(pg_app, url, lambda pk: queues.enqueue_match(queue, pk), "ing-s")

    def running() -> None:
        assert listener.state == RUNNING and listener.counts["stored"] == 2

    row = good_bad_good(pg_app, REFUSE, listener, own_broker.port, running)
    assert row.startswith("storage_refused: ") and "refused by the test" in row


def test_a_message_that_keeps_failing_is_quarantined_not_waited_for(
    pg_app: Flask, device, own_broker
) -> None:
    """An error that is no outage (the database answers) and no refusal class (a plain RAISE:
    InternalError) pauses the listener a few times, then the message is quarantined as
    ingest_error and acknowledged, and the batches behind it are stored."""
    url = f"mqtt://{HOST}:{own_broker.port}"
    listener = IngestListener(pg_app, url, lambda pk: None, "ing-p")

    def paused_a_few_times() -> None:
        assert listener.counts["paused"] == POISON_FAILURES_MAX

    row = good_bad_good(pg_app, POISON, listener, own_broker.port, paused_a_few_times)
    assert row.startswith("ingest_error: ") and "refused by the test" in row


def test_a_wrong_password_is_said_once_and_the_listener_keeps_trying(
    pg_app: Flask, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """The broker refuses our login: one ERROR naming the URL (password hidden), no crash."""
    caplog.set_level(logging.INFO)
    (tmp_path / "broker").mkdir()
    passwords = tmp_path / "broker" / "passwords"
    passwords.touch()
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "zamio-ingest", "right"], check=True)
    broker = Broker(tmp_path / "broker", f"allow_anonymous false\npassword_file {passwords}\n")
    broker.start()
    url = f"mqtt://zamio-ingest:wrong@{HOST}:{broker.port}"
    listener = IngestListener(pg_app, url, lambda pk: None, "zamio-ingest")
    thread = start_listener(listener, subscribe=False)
    try:
        wait_until(lambda: listener.state == "broker_refused", 10, "broker_refused")
        time.sleep(3)  # several more attempts
        lines = [
            r.getMessage() for r in caplog.records if "refused the connection" in r.getMessage()
        ]
        assert len(lines) == 1 and thread.is_alive() and listener.state == "broker_refused"
        assert f"mqtt://zamio-ingest:***@{HOST}:{broker.port}" in lines[0]
        assert "wrong@" not in caplog.text
    finally:
        listener.stop()
        broker.stop()
    thread.join(10)
    assert not thread.is_alive()
