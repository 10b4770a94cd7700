"""SMS through a provider. The interface (`SmsProvider.send(to, text) -> message id`, raising
SmsUnavailable to try again or SmsRefused for good) has one implementation, Hubtel's SMS API
(Ghana), as documented at businessdocs-developers.hubtel.com:

    POST {ZAMIO_SMS_URL}/v1/messages/send
    Authorization: Basic base64(client id ":" client secret)
    Content-Type: application/json
    {"From": "ZamIO", "To": "233241234567", "Content": "..."}

    201 (or 200) {"rate": 0.03, "messageId": "<uuid>", "status": 0, "networkId": "62001",
                  "clientReference": null, "statusDescription": "request submitted successfully"}
    400 {"status": 1, ...}  invalid destination (2 sender, 3 too long, 6 content rejected, ...)
    401 bad credentials, 402 no credit, 403 recipient has not agreed, 5xx the provider's fault

A 400 or 403 is refused for good (this message will never go); 401, 402, 429 and 5xx are the
operator's or provider's to fix, so the message is tried again. `zamio sms-sim` serves this API.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol

from central.notifications import transport

SEND_PATH = "/v1/messages/send"
SMS_CHARS_MAX = 459  # three concatenated GSM-7 segments
REFUSED_STATUSES = (400, 403, 404)


class SmsUnavailable(Exception):
    """The provider could not take the message now; try again later."""


class SmsRefused(Exception):
    """The provider refused the message for good (a bad number, rejected content)."""


class SmsProvider(Protocol):
    """Sends one text message; returns the provider's message id."""

    def send(self, to: str, text: str) -> str: ...


class HubtelSms:
    """Hubtel's SMS API at `base_url` (https://sms.hubtel.com, or `zamio sms-sim`)."""

    def __init__(
        self, base_url: str, client_id: str, client_secret: str, sender: str, timeout_s: float
    ) -> None:
        self.url = base_url.rstrip("/") + SEND_PATH
        self.sender = sender
        self.timeout_s = timeout_s
        credentials = f"{client_id}:{client_secret}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode()

    def __repr__(self) -> str:
        return f"HubtelSms({self.url!r}, sender={self.sender!r})"  # never the credentials

    def send(self, to: str, text: str) -> str:
        """POST the message; its messageId."""
        body = json.dumps({"From": self.sender, "To": to.lstrip("+"), "Content": text}).encode()
        headers = {"Authorization": self._authorization, "Content-Type": "application/json",
                   "Accept": "application/json"}  # fmt: skip
        try:
            answer = transport.request("POST", self.url, body, headers, self.timeout_s)
        except transport.Unreachable as error:
            raise SmsUnavailable(str(error)) from None
        found = _json(answer.body)
        detail = f"HTTP {answer.status}: {found.get('statusDescription') or found.get('message')}"
        if answer.status in REFUSED_STATUSES:
            raise SmsRefused(f"{detail} (status {found.get('status')})")
        if answer.status not in (200, 201) or found.get("status") not in (0, "0"):
            raise SmsUnavailable(detail)
        message_id = found.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            raise SmsUnavailable(f"HTTP {answer.status} without a messageId")
        return message_id


def provider_from_settings(settings: Any) -> SmsProvider | None:
    """Hubtel at ZAMIO_SMS_URL with its client id and secret; None when unset."""
    if settings.sms_url is None:
        return None
    return HubtelSms(
        settings.sms_url, settings.sms_client_id, settings.sms_client_secret, settings.sms_from,
        float(settings.sms_timeout_s),
    )  # fmt: skip


def sms_text(subject: str, link_url: str | None) -> str:
    """The text of a notification by SMS: its subject and link, within SMS_CHARS_MAX."""
    tail = f" {link_url}" if link_url else ""
    room = SMS_CHARS_MAX - len(tail)
    head = subject if len(subject) <= room else subject[: room - 1] + "…"
    return head + tail


def _json(body: bytes) -> dict[str, Any]:
    """The JSON object of an answer, or {}."""
    try:
        found = json.loads(body or b"{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
