"""The embedded defaults: inline jobs that fail are logged, broker URLs a local client can use."""

from __future__ import annotations

import logging

import pytest

from central.embedded.broker import local_url
from central.embedded.inline import inline_queue


def test_a_failing_inline_job_is_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    """RQ's synchronous mode swallows a job's exception; the inline queue logs it at ERROR with
    the traceback, drops the job, and the enqueuer carries on."""
    queue = inline_queue()
    with caplog.at_level(logging.ERROR, logger="central.embedded.inline"):
        job = queue.enqueue("json.loads", "not json")
    assert not queue.connection.exists(job.key), "dropped"
    assert "job json.loads failed" in caplog.text and "JSONDecodeError" in caplog.text


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "mqtt://127.0.0.1:1883"), ("0.0.0.0", "mqtt://127.0.0.1:1883"),
     ("::", "mqtt://[::1]:1883"), ("::1", "mqtt://[::1]:1883")],
)  # fmt: skip
def test_local_url_reaches_the_bind_address(host: str, url: str) -> None:
    """A wildcard bind is reached on loopback; an IPv6 host is bracketed (urlsplit needs it)."""
    assert local_url(host, 1883) == url
