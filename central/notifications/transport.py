"""One HTTP request with a deadline, no redirects followed, the answer's body bounded, and
optionally only to public addresses: the host is resolved once, every address it resolves to
must be public, and the connection goes to that address (TLS still checks the host's name), so
a webhook URL cannot reach the database, Redis or a cloud's metadata service, nor be re-pointed
there between the check and the connection by a second DNS answer."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

BODY_BYTES_MAX = 64 * 1024  # of an answer: enough for any provider's JSON, bounded for a receiver


class Unreachable(Exception):
    """No answer: the name did not resolve, the connection failed or timed out (try again)."""


class Forbidden(Exception):
    """The URL points at a private, loopback or link-local address, or is no http(s) URL."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: its status, (the start of) its body and how long it took."""

    status: int
    body: bytes
    duration_ms: int


def public_address(address: str) -> bool:
    """Whether `address` (an IP) is a public unicast one."""
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for host:port; Forbidden if a non-public one is among its
    addresses (unless allowed), Unreachable if it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Unreachable(f"{host}: does not resolve ({error})") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise Unreachable(f"{host}: no address")
    if not allow_private:
        private = [a for a in addresses if not public_address(a)]
        if private:
            raise Forbidden(f"{host} resolves to {private[0]}, not a public address")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a resolved address, for the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout_s: float) -> None:
        super().__init__(host, port, timeout=timeout_s)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to a resolved address, its certificate checked for the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout_s: float) -> None:
        super().__init__(host, port, timeout=timeout_s, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def request(
    method: str,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    timeout_s: float,
    allow_private: bool = True,
) -> Answer:
    """Send one request and read its answer (redirects are answers, not followed);
    Unreachable when there is none, Forbidden for a URL that may not be called."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Forbidden(f"not an http(s) URL: {url[:100]}")
    if parts.scheme == "http" and not allow_private:
        raise Forbidden("plain http is refused: use https")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve(parts.hostname, port, allow_private)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(parts.hostname, port, address, timeout_s)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read(BODY_BYTES_MAX)
    except (OSError, http.client.HTTPException) as error:
        raise Unreachable(f"{parts.hostname}: {type(error).__name__}: {error}") from None
    finally:
        connection.close()
    return Answer(response.status, data, round((time.monotonic() - started) * 1000))
