"""A simulator of Hubtel's SMS API (the part ZamIO uses), a real HTTP server for the demo and the
tests: `zamio sms-sim --port 8025 --client-id ID --client-secret SECRET`, then
ZAMIO_SMS_URL=http://127.0.0.1:8025 with the same id and secret.

    POST /v1/messages/send   Basic auth; JSON {"From", "To", "Content"}     201 {messageId, ...}
    GET  /v1/messages/send?clientid=&clientsecret=&from=&to=&content=      201 (Hubtel's quick send)
    GET  /v1/messages/{messageId}   Basic auth                              200 its status

As Hubtel answers: 401 for wrong credentials; 400 with `status` 1 (bad destination: not 10-15
digits), 2 (bad sender id: not 1-11 letters and digits) or 3 (content empty or too long).
Faults by the destination's last three digits, so a test picks its outcome: ...500 answers
500, ...402 answers 402 (no credit), ...403 answers 403 (the recipient has not agreed). Every
accepted message is kept in memory and shows as Delivered. No request is logged (the quick
send carries the secret in its query). The HTTP plumbing is central/simulators.py's."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import click
from werkzeug.wrappers import Request, Response

from central.simulators import (
    json_body,
    json_response,
    make_simulator_server,
    serve_in_thread,
    server_url,
)

DESTINATION = re.compile(r"\+?[0-9]{10,15}")
SENDER = re.compile(r"[A-Za-z0-9]{1,11}")
CONTENT_CHARS_MAX = 1600
RATE = 0.0309  # GHS a message, as Hubtel's sample says
FAULTS = {"500": 500, "402": 402, "403": 403}
MESSAGE_PATH = re.compile(r"/v1/messages/([0-9a-f-]{36})")
UNAUTHORIZED = "The request authorization failed."


@dataclass
class SimState:
    """The simulator's credentials and the messages it took."""

    client_id: str
    client_secret: str = field(repr=False)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def authorized(self, client_id: str | None, client_secret: str | None) -> bool:
        """Whether these are the simulator's credentials (compared in constant time)."""
        return (
            client_id is not None
            and client_secret is not None
            and hmac.compare_digest(client_id.encode(), self.client_id.encode())
            and hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        )


def basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    """(user, password) of an `Authorization: Basic ...` header, or (None, None)."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, sep, password = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)


def send(state: SimState, sender: str, to: str, content: str) -> tuple[int, dict[str, Any]]:
    """Take one message (or refuse it as Hubtel would): (HTTP status, JSON answer)."""
    if not DESTINATION.fullmatch(to or ""):
        return 400, {"status": 1, "statusDescription": "Invalid destination address"}
    if not SENDER.fullmatch(sender or ""):
        return 400, {"status": 2, "statusDescription": "Invalid source address"}
    if not content or len(content) > CONTENT_CHARS_MAX:
        return 400, {"status": 3, "statusDescription": "The message body was too long or empty"}
    fault = FAULTS.get(to[-3:])
    if fault is not None:
        return fault, {"status": fault, "statusDescription": f"simulated HTTP {fault}"}
    message_id = str(uuid.uuid4())
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with state.lock:
        state.messages[message_id] = {
            "rate": RATE, "batchId": None, "messageId": message_id, "content": content,
            "status": "Delivered", "updateTime": now, "time": now, "to": to.lstrip("+"),
            "from": sender,
        }  # fmt: skip
    return 201, {
        "rate": RATE, "messageId": message_id, "status": 0, "networkId": "62001",
        "clientReference": None, "statusDescription": "request submitted successfully",
    }  # fmt: skip


def sim_app(state: SimState) -> Callable[..., Any]:
    """The simulator as a WSGI app over `state` (served by central/simulators.py)."""

    @Request.application
    def app(request: Request) -> Response:
        if request.path == "/v1/messages/send":
            return _send_view(state, request)
        found = MESSAGE_PATH.fullmatch(request.path)
        if found is None or request.method != "GET":
            return json_response({"message": "Not Found"}, 404)
        if not state.authorized(*basic_credentials(request.headers.get("Authorization"))):
            return json_response({"message": UNAUTHORIZED}, 401)
        with state.lock:
            message = state.messages.get(found.group(1))
        if message is None:
            return json_response({"message": "The specified message was not found."}, 404)
        return json_response(message)

    return app


def _send_view(state: SimState, request: Request) -> Response:
    """POST (Basic auth, JSON) or GET (credentials in the query: Hubtel's quick send)."""
    if request.method == "GET":
        query = {k.lower(): v for k, v in request.args.items()}
        if not state.authorized(query.get("clientid"), query.get("clientsecret")):
            return json_response({"message": UNAUTHORIZED}, 401)
        status, answer = send(state, query.get("from", ""), query.get("to", ""),
                              query.get("content", ""))  # fmt: skip
        return json_response(answer, status)
    if request.method != "POST":
        return json_response({"message": "Method Not Allowed"}, 405)
    if not state.authorized(*basic_credentials(request.headers.get("Authorization"))):
        return json_response({"message": UNAUTHORIZED}, 401)
    body = json_body(request)
    if not isinstance(body, dict):
        return json_response({"status": 100, "statusDescription": "Malformed request"}, 400)
    status, answer = send(state, str(body.get("From", "")), str(body.get("To", "")),
                          str(body.get("Content", "")))  # fmt: skip
    return json_response(answer, status)


def start_sms_sim(
    client_id: str, client_secret: str, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, SimState, Callable[[], None]]:
    """The simulator in a thread: (its base URL, its state, stop)."""
    state = SimState(client_id, client_secret)
    url, stop = serve_in_thread(sim_app(state), host, port)
    return url, state, stop


@click.command("sms-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8025, show_default=True)
@click.option("--client-id", required=True, help="The client id ZAMIO_SMS_CLIENT_ID names.")
@click.option("--client-secret", required=True, help="The secret ZAMIO_SMS_CLIENT_SECRET holds.")
def sms_sim_command(host: str, port: int, client_id: str, client_secret: str) -> None:
    """Run a simulator of Hubtel's SMS API in the foreground (Ctrl-C or SIGTERM stops it)."""
    server = make_simulator_server(sim_app(SimState(client_id, client_secret)), host, port)
    click.echo(f"sms-sim: Hubtel's SMS API at {server_url(server)}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
