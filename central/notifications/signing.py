"""Webhook signatures and secrets (pure: no I/O).

Every webhook POST carries `ZamIO-Signature: t=<unix seconds>,v1=<hex>`, where hex is
HMAC-SHA256(secret, "<t>." + raw body), as Stripe signs its webhooks. A receiver recomputes it
over the raw body it got, compares in constant time, and refuses a `t` older than a few minutes
(a replayed capture). Worked example: secret `whsec_test`, t = 1790000000, body `{"a":1}`:
the signed bytes are `1790000000.{"a":1}`.

Secrets are not stored. An endpoint's secret is `whsec_` + base64url(HMAC-SHA256(server key,
"zamio.webhook.v1:" + salt)) with a random 16-byte salt per endpoint kept in its row, and the
server key is the console's session key (ZAMIO_SECRET_KEY, or the key file kept beside the
database). It is shown once, when the endpoint is made; a database dump alone cannot sign.
Changing ZAMIO_SECRET_KEY changes every endpoint's secret (make the endpoints again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_HEADER = "ZamIO-Signature"
SCHEME = "v1"
SECRET_PREFIX = "whsec_"
TOLERANCE_S = 300  # a receiver's window for `t`, the one verify() applies by default
_CONTEXT = b"zamio.webhook.v1:"


def endpoint_secret(server_key: bytes, salt_hex: str) -> str:
    """The signing secret of the endpoint whose salt is `salt_hex`."""
    digest = hmac.new(server_key, _CONTEXT + bytes.fromhex(salt_hex), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signature(secret: str, timestamp_s: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp_s>." + body under `secret`."""
    message = str(timestamp_s).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp_s: int, body: bytes) -> str:
    """The ZamIO-Signature header's value: `t=...,v1=...`."""
    return f"t={timestamp_s},{SCHEME}={signature(secret, timestamp_s, body)}"


def verify(
    header: str, body: bytes, secret: str, now_s: int, tolerance_s: int = TOLERANCE_S
) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `tolerance_s` of `now_s`
    (what a receiver does; ZamIO's tests use it)."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp_s = int(stamps[0])
    if abs(now_s - timestamp_s) > tolerance_s:
        return False
    expected = signature(secret, timestamp_s, body)
    return any(hmac.compare_digest(expected, given) for given in fields.get(SCHEME, []))
