"""SMS through Hubtel's API as `zamio sms-sim` serves it, in a process of its own: a notification
chosen by SMS reaches the simulator (its status check shows the text and number); a refused
number fails for good, a provider fault is retried; wrong credentials never send."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from central.extensions import db, utc_now
from central.notifications import notify, preferences
from central.notifications.models import NotificationDelivery
from central.notifications.sms import HubtelSms, SmsRefused, SmsUnavailable
from central.notifications.sms_sim import start_sms_sim
from tests.integration.edge_agent.conftest import stop_process
from tests.integration.notifications.conftest import WAIT_S_MAX, configure, free_port

pytestmark = pytest.mark.integration
CLIENT_ID, CLIENT_SECRET = "zamio-test", "s3cret-of-the-sim"


@pytest.fixture(scope="module")
def sms_sim(tmp_path_factory) -> Iterator[str]:
    """`zamio sms-sim` as a process on a free port, for this module's tests; its URL."""
    tmp_path = tmp_path_factory.mktemp("sms-sim")
    port = free_port()
    log = (tmp_path / "sms-sim.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "central", "sms-sim", "--port", str(port),
         "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + WAIT_S_MAX
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sms-sim did not start: {(tmp_path / 'sms-sim.log').read_text()}")
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)
        log.close()


def _status(url: str, message_id: str) -> dict:
    """The simulator's answer to Hubtel's status check of a message."""
    request = urllib.request.Request(f"{url}/v1/messages/{message_id}")
    token = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def test_a_notification_by_sms_reaches_the_provider(any_app: Flask, people, sms_sim) -> None:
    """A station user who chose SMS for stream.down gets the subject and link as a text to
    their number; the delivery keeps Hubtel's messageId."""
    configure(any_app, sms_url=sms_sim, sms_client_id=CLIENT_ID, sms_client_secret=CLIENT_SECRET,
              sms_from="ZamIO")  # fmt: skip
    with any_app.app_context():
        preferences.save_preferences(db.session, people["station"], {"stream.down": ["sms"]},
                                     "0241234567", None, None, utc_now())  # fmt: skip
        notify(db.session, "stream.down", [people["station"]], "joy-fm: stream down for 12 min",
               "down", link="/stations/joy-fm/health")  # fmt: skip
        db.session.commit()
        [row] = db.session.scalars(select(NotificationDelivery))
        assert (row.channel, row.state, row.attempts) == ("sms", "sent", 1)
    found = _status(sms_sim, row.provider_ref)
    assert found["to"] == "233241234567" and found["from"] == "ZamIO"
    assert found["content"] == (
        "joy-fm: stream down for 12 min http://127.0.0.1:8000/stations/joy-fm/health"
    )
    assert found["status"] == "Delivered"


def test_refusals_and_faults_as_hubtel_answers(sms_sim) -> None:
    """A bad number and a number the recipient has not agreed to are refused for good; a 500,
    no credit and wrong credentials are to try again; none of them is kept as sent."""
    provider = HubtelSms(sms_sim, CLIENT_ID, CLIENT_SECRET, "ZamIO", 5)
    for number in ("12", "+233241234403"):
        with pytest.raises(SmsRefused):
            provider.send(number, "hello")
    for number in ("+233241234500", "+233241234402"):
        with pytest.raises(SmsUnavailable):
            provider.send(number, "hello")
    with pytest.raises(SmsUnavailable, match="401"):
        HubtelSms(sms_sim, CLIENT_ID, "wrong", "ZamIO", 5).send("+233241234567", "hello")
    message_id = provider.send("+233241234567", "hello")
    assert _status(sms_sim, message_id)["content"] == "hello"
    fields = {"clientid": CLIENT_ID, "clientsecret": CLIENT_SECRET, "from": "ZamIO",
              "to": "233241234567", "content": "quick"}  # fmt: skip
    query = urllib.parse.urlencode(fields)
    with urllib.request.urlopen(f"{sms_sim}/v1/messages/send?{query}", timeout=5) as answer:
        quick = json.loads(answer.read())
    assert answer.status == 201 and quick["status"] == 0
    assert _status(sms_sim, quick["messageId"])["content"] == "quick"


def test_the_simulator_runs_in_a_thread_for_the_demo() -> None:
    """start_sms_sim serves the same API from a thread, its messages in its state."""
    url, state, stop = start_sms_sim(CLIENT_ID, CLIENT_SECRET)
    try:
        message_id = HubtelSms(url, CLIENT_ID, CLIENT_SECRET, "ZamIO", 5).send(
            "+233201234567", "hi"
        )
        assert state.messages[message_id]["to"] == "233201234567"
    finally:
        stop()
