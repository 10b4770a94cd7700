"""Fixtures of the notification tests: a real SMTP server (aiosmtpd) that keeps what it gets and
can refuse, an app on SQLite or PostgreSQL set to send to it, and users of every role."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from central.auth import users
from central.extensions import db
from central.notifications import signing
from tests.integration.central.console.conftest import (  # noqa: F401  (the console's fixtures)
    console_client,
    console_people,
)
from tests.integration.central.rows import add_station

PASSWORD = "a long enough passphrase"
PEOPLE = {
    "admin": ("ops@zamio.test", "admin", (), ()),
    "station": ("desk@joy.test", "station", ("joy-fm",), ()),
    "artist": ("ama@artists.test", "artist", (), ("artist:ama:earnings",)),
    "rights_holder": ("label@adomi.test", "rights_holder", (), ("label:adomi:earnings",)),
    "auditor": ("society@ghamro.test", "auditor", (), ()),
}
WAIT_S_MAX = 10.0


class Mailbox:
    """What the SMTP server received; `refuse` maps a recipient to the reply that refuses it
    (e.g. '550 no such user', or '451 try later' for the next `refusals` messages)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: dict[str, str] = {}
        self.busy_replies = 0  # answer this many messages with 451 first
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        """Refuse a recipient named in `refuse`."""
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        """Keep the message (or say 451 while busy_replies lasts)."""
        with self._lock:
            if self.busy_replies > 0:
                self.busy_replies -= 1
                return "451 4.3.0 try again later"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages received for `address`."""
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, count: int) -> list[EmailMessage]:
        """The messages, once there are at least `count` (fails after WAIT_S_MAX)."""
        deadline = time.monotonic() + WAIT_S_MAX
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{len(self.messages)} messages arrived, expected {count}")
            time.sleep(0.02)
        return list(self.messages)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on a free port of 127.0.0.1: (its mailbox, its port)."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def free_port() -> int:
    """A TCP port of 127.0.0.1 free just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def configure(app: Flask, **changes: object) -> None:
    """Change the app's settings for this test (they are read where they are used)."""
    app.config["ZAMIO"] = dataclasses.replace(app.config["ZAMIO"], **changes)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request: pytest.FixtureRequest) -> Flask:
    """The SQLite app (`app`) and the PostgreSQL one (`pg_app`), both with inline jobs."""
    return request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")


def add_people(app: Flask) -> dict[str, int]:
    """Stations joy-fm and peace-fm and a user of each role (no password: none signs in);
    user ids by role."""
    with app.app_context():
        add_station(db.session, "joy-fm")
        add_station(db.session, "peace-fm")
        found = {}
        for role, (address, role_name, stations, parties) in PEOPLE.items():
            user = users.add_user(db.session, address, role_name, None, stations, parties)
            found[role] = user.id
        db.session.commit()
    return found


@pytest.fixture
def people(any_app: Flask) -> dict[str, int]:
    """add_people on the test's app."""
    return add_people(any_app)


@pytest.fixture
def mail_app(any_app: Flask, mailbox) -> Flask:
    """The test's app, mailing to the test's SMTP server."""
    _, port = mailbox
    configure(any_app, smtp_url=f"smtp://127.0.0.1:{port}", mail_from="ZamIO <zamio@zamio.test>")
    return any_app


Wait = Callable[[Callable[[], bool], str], None]


def wait_until(condition: Callable[[], bool], message: str) -> None:
    """Poll `condition` until true; fail with `message` after WAIT_S_MAX."""
    deadline = time.monotonic() + WAIT_S_MAX
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(0.02)


class Receiver:
    """A webhook receiver on 127.0.0.1: checks each POST's signature with `secret`, answers
    with the next of `statuses` (then 200), and keeps (headers, body, signature ok, status)."""

    def __init__(self, statuses: list[int]) -> None:
        self.secret = ""
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                header = self.headers.get(signing.SIGNATURE_HEADER, "")
                verified = signing.verify(header, body, receiver.secret, int(time.time()))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if not verified:
                    status = 400
                receiver.requests.append({"headers": dict(self.headers), "body": body,
                                          "verified": verified, "status": status})  # fmt: skip
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/zamio"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def accepted(self) -> list[dict]:
        """The requests answered with a 2xx."""
        return [r for r in self.requests if 200 <= r["status"] < 300]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[[list[int]], Receiver]]:
    """receiver(statuses): a webhook receiver answering those statuses first; stopped after."""
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for each in made:
        each.stop()
