"""The embedded defaults: inline jobs that fail are logged (kept when they failed for good),
broker URLs a local client can use."""

from __future__ import annotations

import logging
import socket

import pytest
from flask import Flask
from rq.job import Job, JobStatus

from central import create_app, queues, worker
from central.embedded.broker import local_url
from central.embedded.inline import inline_connection, inline_queue
from central.matching.jobs import sweep_unmatched
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from tests.conftest import disposed
from tests.integration.central.broadcast import (
    START_MS,
    ingest,
    matched_batches,
    payloads,
    register_songs,
    stored_ago,
)
from tests.transforms import song


def test_a_failing_inline_job_is_logged_and_kept_as_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """RQ's synchronous mode swallows a job's exception; the inline queue logs it at ERROR with
    the traceback and the enqueuer carries on; a job that failed for good stays failed (so the
    sweep of unmatched batches does not run it again every minute)."""
    queue = inline_queue()
    with caplog.at_level(logging.ERROR, logger="central.embedded.inline"):
        job = queue.enqueue("json.loads", "not json")
    assert job.get_status() == JobStatus.FAILED
    assert "job json.loads failed" in caplog.text and "JSONDecodeError" in caplog.text
    job.delete()


def test_an_inline_job_that_met_a_transient_error_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A job whose database was unreachable (a port nothing listens on) is logged and dropped:
    the periodic jobs (which skip failed jobs) run it again."""
    queue = inline_queue()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/zamio"
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    worker.use_app(app, queue)
    try:
        with caplog.at_level(logging.ERROR, logger="central.embedded.inline"):
            job = queue.enqueue(sweep_unmatched)
    finally:
        worker.use_app(None)
        disposed(app)
    assert not queue.connection.exists(job.key), "dropped"
    assert "OperationalError" in caplog.text and "Connection refused" in caplog.text


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "mqtt://127.0.0.1:1883"), ("0.0.0.0", "mqtt://127.0.0.1:1883"),
     ("::", "mqtt://[::1]:1883"), ("::1", "mqtt://[::1]:1883")],
)  # fmt: skip
def test_local_url_reaches_the_bind_address(host: str, url: str) -> None:
    """A wildcard bind is reached on loopback; an IPv6 host is bracketed (urlsplit needs it)."""
    assert local_url(host, 1883) == url


def test_the_inline_sweep_matches_batches_whose_job_was_lost(app: Flask) -> None:
    """Embedded defaults (SQLite, inline jobs): batches stored with no job run (the process
    stopped first) are matched by one sweep, their job records left finished, not marked
    queued again (which would hide a later loss from the sweep); the next sweep finds none."""
    inline_connection().flushdb()
    register_songs(app, {"T1": 52}, 40.0)
    queue = inline_queue()
    worker.use_app(app, queue)
    try:
        pks = ingest(app, payloads(song(52, 40.0)[: 25 * SAMPLE_RATE_HZ], START_MS), START_MS)
        stored_ago(app, pks, 180)
        assert sweep_unmatched() == len(pks)
        assert matched_batches(app) == set(pks)
        for pk in pks:
            job = Job.fetch(queues.match_job_id(pk), connection=queue.connection)
            assert job.get_status() == JobStatus.FINISHED
        assert sweep_unmatched() == 0
    finally:
        worker.use_app(None)
