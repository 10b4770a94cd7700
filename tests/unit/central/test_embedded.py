"""The embedded defaults: inline jobs that fail are logged (kept when they failed for good),
broker URLs a local client can use."""

from __future__ import annotations

import logging
import socket

import pytest
from rq.job import JobStatus

from central import create_app, worker
from central.embedded.broker import local_url
from central.embedded.inline import inline_queue
from central.matching.jobs import sweep_unmatched
from tests.conftest import disposed


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
