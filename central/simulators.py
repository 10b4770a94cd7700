"""Plumbing shared by the simulators of outside providers (MTN MoMo, an SMS gateway): a small WSGI
app served by werkzeug's threaded server, in the foreground for a `zamio ...-sim` command or in
a thread for the demo and the tests, with JSON helpers and no request log (a benchmark makes
thousands of requests; the headers carry keys that must never reach a log anyway)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

WSGIApp = Callable[..., Any]
STOP_WAIT_S_MAX = 5.0  # how long stop() waits for the serving thread


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's handler without its one line per request on stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing: the simulators count what they serve instead."""


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response of `body` (None: an empty body, as MoMo's 202)."""
    if body is None:
        return Response(b"", status=status, headers=headers)
    data = json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status=status, headers=headers, content_type="application/json")


def json_body(request: Request) -> Any:
    """The request's JSON body, or None when it is missing or not JSON."""
    try:
        return json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


def make_simulator_server(app: WSGIApp, host: str, port: int) -> BaseWSGIServer:
    """A threaded server of `app` bound to host:port (0: any free port), not yet serving."""
    return make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)


def server_url(server: BaseWSGIServer) -> str:
    """http:// URL a client on this machine reaches `server` at (a wildcard bind on loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(server.host, server.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{server.server_port}"


def serve_in_thread(app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable]:
    """Serve `app` from a daemon thread; returns its URL and a stop() that closes the socket."""
    server = make_simulator_server(app, host, port)
    thread = threading.Thread(target=server.serve_forever, name="simulator", daemon=True)
    thread.start()

    def stop() -> None:
        """Stop serving and release the port (requests in flight finish on their threads)."""
        server.shutdown()
        server.server_close()
        thread.join(STOP_WAIT_S_MAX)

    return server_url(server), stop


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for a client that must find nobody there)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
