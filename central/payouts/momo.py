"""The MTN MoMo Disbursement connector: a Provider (provider.py) over MTN's HTTP API, or over
`zamio momo-sim`, which speaks the same.

Safety first: a transfer is asked for under the reference the caller made and stored before
(X-Reference-Id = str(order.reference)), never a new one; any answer that does not say what
happened (a timeout, a refused connection, a 5xx, an unknown status word) raises
ProviderUnavailable, and the caller asks again by that reference. A 409 means MTN already holds
the reference: submitted, keep polling. Keys and tokens are never logged.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from central.config import Settings
from central.payouts.provider import (
    FAILED,
    PENDING,
    SUCCESSFUL,
    PayoutOrder,
    ProviderRefused,
    ProviderTransfer,
    ProviderUnavailable,
)

logger = logging.getLogger(__name__)

NAME = "mtn-momo"
SUBSCRIPTION_HEADER = "Ocp-Apim-Subscription-Key"
TOKEN_MARGIN_S_MAX = 60.0  # a token is renewed this long (or a tenth of its life) before expiry
NOTE_CHARS_MAX = 160  # MTN's limit on payerMessage and payeeNote
# Digits after the point of amounts in each currency (ISO 4217); any other currency has 2.
CURRENCY_EXPONENTS = {"UGX": 0, "XAF": 0, "XOF": 0, "RWF": 0, "GNF": 0}
# Status words of a transfer that has not ended; SUCCESSFUL and FAILED end it. Any other word
# is not understood, and is not taken as an answer (ProviderUnavailable: ask again later).
_STILL_PENDING = frozenset({PENDING, "ONGOING", "CREATED"})
# 500s that MTN documents as a refusal of the request's setup, never as an unknown outcome.
_REFUSED_500_CODES = frozenset(
    {
        "NOT_ALLOWED",
        "NOT_ALLOWED_TARGET_ENVIRONMENT",
        "INVALID_CALLBACK_URL_HOST",
        "INVALID_CURRENCY",
    }
)


def exponent_of(currency: str) -> int:
    """Digits after the point in amounts of `currency`."""
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)


def amount_text(amount_minor: int, currency: str) -> str:
    """MoMo's decimal string of an amount in minor units: 1250 GHS -> "12.50"."""
    if amount_minor <= 0:
        raise ValueError(f"a transfer is of a positive amount, got {amount_minor}")
    exponent = exponent_of(currency)
    return f"{Decimal(amount_minor).scaleb(-exponent):.{exponent}f}"


def amount_minor_of(text: str, currency: str) -> int:
    """Minor units of MoMo's decimal string: "12.5" GHS -> 1250; ValueError if not exact."""
    try:
        value = Decimal(text).scaleb(exponent_of(currency))
    except (InvalidOperation, TypeError) as error:
        raise ValueError(f"not an amount: {text!r}") from error
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"{text!r} {currency} is not a whole number of minor units")
    return int(value)


def note_text(text: str) -> str:
    """`text` as MTN takes a payer message or payee note: no apostrophes (refused with a 400),
    at most 160 characters."""
    return text.replace("'", "\u2019")[:NOTE_CHARS_MAX]


def transfer_body(order: PayoutOrder) -> dict[str, Any]:
    """The JSON body of POST /disbursement/v1_0/transfer for `order`."""
    return {
        "amount": amount_text(order.amount_minor, order.currency),
        "currency": order.currency,
        "externalId": order.external_id,
        "payee": {"partyIdType": "MSISDN", "partyId": order.msisdn},
        "payerMessage": note_text(order.payer_message),
        "payeeNote": note_text(order.payee_note),
    }


def transfer_of(body: Any) -> ProviderTransfer:
    """A ProviderTransfer from MTN's GET body; ProviderUnavailable when it says nothing we can
    act on (an unknown status word, a malformed body)."""
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise ProviderUnavailable("MoMo answered a transfer status without a status")
    word = body["status"].upper()
    if word in _STILL_PENDING:
        state = PENDING
    elif word in (SUCCESSFUL, FAILED):
        state = word
    else:
        raise ProviderUnavailable(f"MoMo answered an unknown transfer status {word!r}")
    currency = body.get("currency") if isinstance(body.get("currency"), str) else None
    amount_minor = None
    if currency is not None and isinstance(body.get("amount"), str | int):
        try:
            amount_minor = amount_minor_of(str(body["amount"]), currency)
        except ValueError as error:
            raise ProviderUnavailable(f"MoMo answered a bad amount: {error}") from None
    provider_id = body.get("financialTransactionId")
    return ProviderTransfer(
        state=state,
        reason=reason_of(body.get("reason")) if state == FAILED else None,
        provider_id=str(provider_id) if provider_id not in (None, "") else None,
        amount_minor=amount_minor,
        currency=currency,
    )


def reason_of(reason: Any) -> str:
    """MTN's reason code, given as a string (the sandbox) or as {"code", "message"} (the API's
    ErrorReason)."""
    if isinstance(reason, dict):
        reason = reason.get("code")
    return reason if isinstance(reason, str) and reason else "UNKNOWN"


def error_code(status: int, body: Any) -> str:
    """The code of an error answer: MTN's `code`, the token endpoint's `error`, or the HTTP
    status."""
    if isinstance(body, dict):
        for field in ("code", "error"):
            if isinstance(body.get(field), str) and body[field]:
                return body[field].upper()
        if "subscription key" in str(body.get("message", "")).lower():
            return "INVALID_SUBSCRIPTION_KEY"
    return "UNAUTHORIZED" if status == 401 else f"HTTP_{status}"


def token_margin_s(expires_in_s: float) -> float:
    """How long before its expiry a token is renewed."""
    return min(TOKEN_MARGIN_S_MAX, expires_in_s / 10)


class MomoProvider:
    """MTN MoMo's Disbursement API as a Provider. Safe to share between threads: one HTTP
    session per thread, one token for all."""

    name = NAME

    def __init__(
        self,
        base_url: str,
        api_user: str,
        api_key: str,
        subscription_key: str,
        *,
        environment: str = "sandbox",
        timeout_s: float = 15,
    ) -> None:
        """A connector to the API at `base_url` as `api_user`."""
        self.base_url = base_url.rstrip("/")
        self.environment = environment
        self.timeout_s = timeout_s
        self._api_user = api_user
        self._basic = base64.b64encode(f"{api_user}:{api_key}".encode()).decode()
        self._subscription_key = subscription_key
        self._token: str | None = None
        self._token_renew_at = 0.0  # monotonic
        self._token_lock = threading.Lock()
        self._local = threading.local()

    def __repr__(self) -> str:
        """The connector without its secrets."""
        return f"MomoProvider({self.base_url!r}, api_user={self._api_user!r})"

    def account_active(self, msisdn: str) -> bool:
        """Whether `msisdn` holds an active MoMo account (404: it does not)."""
        path = f"/disbursement/v1_0/accountholder/msisdn/{msisdn}/active"
        answer = self._call("GET", path)
        if answer.status_code == 404:
            return False
        self._raise_for(answer, f"account check of {msisdn}")
        return _json(answer).get("result") is True

    def submit(self, order: PayoutOrder) -> None:
        """POST the transfer under order.reference; returns on 202 or 409 (MTN already has it)."""
        headers = {"X-Reference-Id": str(order.reference)}
        if order.callback_url:
            headers["X-Callback-Url"] = order.callback_url
        answer = self._call(
            "POST", "/disbursement/v1_0/transfer", json=transfer_body(order), headers=headers
        )
        if answer.status_code == 409:
            logger.info("momo: transfer %s was submitted before: keep polling", order.reference)
            return
        self._raise_for(answer, f"transfer {order.reference}")
        logger.info("momo: transfer %s accepted (%s)", order.reference, answer.status_code)

    def status(self, reference: uuid.UUID) -> ProviderTransfer | None:
        """What MoMo says of the transfer under `reference`; None if it never got it (404)."""
        answer = self._call("GET", f"/disbursement/v1_0/transfer/{reference}")
        if answer.status_code == 404:
            return None
        self._raise_for(answer, f"status of {reference}")
        return transfer_of(_json(answer))

    def balance(self) -> tuple[int, str]:
        """The disbursement account's available balance: (minor units, currency)."""
        answer = self._call("GET", "/disbursement/v1_0/account/balance")
        self._raise_for(answer, "balance")
        body = _json(answer)
        currency = str(body.get("currency", ""))
        try:
            return amount_minor_of(str(body.get("availableBalance")), currency), currency
        except ValueError as error:
            raise ProviderUnavailable(f"MoMo answered a bad balance: {error}") from None

    # HTTP

    def _session(self) -> requests.Session:
        """This thread's HTTP session (kept-alive connections)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API request with a valid token; on a 401, once more with a new token."""
        token = self._access_token()
        answer = self._send(method, path, token, **kwargs)
        if answer.status_code == 401:
            logger.info("momo: %s %s: token refused, getting another", method, path)
            answer = self._send(method, path, self._access_token(refused=token), **kwargs)
        return answer

    def _send(
        self, method: str, path: str, token: str, headers: dict | None = None, **kwargs: Any
    ) -> requests.Response:
        """One request to the API; ProviderUnavailable when no answer came."""
        all_headers = {
            "Authorization": f"Bearer {token}",
            SUBSCRIPTION_HEADER: self._subscription_key,
            "X-Target-Environment": self.environment,
            **(headers or {}),
        }
        return self._request(method, path, headers=all_headers, **kwargs)

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request to base_url + path, no answer (timeout, connection) as ProviderUnavailable."""
        try:
            return self._session().request(
                method, self.base_url + path, timeout=self.timeout_s, **kwargs
            )
        except requests.Timeout:
            raise ProviderUnavailable(
                f"MoMo {method} {path}: no answer in {self.timeout_s} s"
            ) from None
        except requests.RequestException as error:
            raise ProviderUnavailable(f"MoMo {method} {path}: {type(error).__name__}") from None

    def _access_token(self, refused: str | None = None) -> str:
        """The cached token, or a new one when it is missing, about to expire, or the one the
        API just `refused` (another thread may have renewed it already)."""
        with self._token_lock:
            now = time.monotonic()
            if self._token is None or self._token == refused or now >= self._token_renew_at:
                self._token = None
                token, expires_in_s = self._new_token()
                self._token = token
                self._token_renew_at = now + expires_in_s - token_margin_s(expires_in_s)
            return self._token

    def _new_token(self) -> tuple[str, float]:
        """POST /disbursement/token/: a new access token and its lifetime in seconds."""
        headers = {
            "Authorization": f"Basic {self._basic}",
            SUBSCRIPTION_HEADER: self._subscription_key,
        }
        answer = self._request("POST", "/disbursement/token/", headers=headers)
        self._raise_for(answer, "token")
        body = _json(answer)
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise ProviderUnavailable("MoMo answered a token request without a token")
        try:
            expires_in_s = float(expires_in)
        except (TypeError, ValueError):
            expires_in_s = 3600.0  # MTN's tokens last an hour
        logger.info("momo: new access token, for %.0f s", expires_in_s)
        return token, expires_in_s

    def _raise_for(self, answer: requests.Response, what: str) -> None:
        """Nothing for a 2xx; ProviderUnavailable for a 5xx or anything unexpected (the outcome
        is unknown); ProviderRefused for a 4xx or a 500 MTN documents as a refusal."""
        status = answer.status_code
        if 200 <= status < 300:
            return
        code = error_code(status, _json(answer, strict=False))
        if 400 <= status < 500 or (status == 500 and code in _REFUSED_500_CODES):
            logger.warning("momo: %s refused: HTTP %s %s", what, status, code)
            raise ProviderRefused(f"MoMo refused the {what}: HTTP {status} {code}", code)
        logger.warning("momo: %s: HTTP %s %s, outcome unknown", what, status, code)
        raise ProviderUnavailable(f"MoMo {what}: HTTP {status} {code}")


def _json(answer: requests.Response, strict: bool = True) -> dict[str, Any]:
    """The answer's JSON object; a body that is not one: ProviderUnavailable (strict) or {}."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    if strict:
        raise ProviderUnavailable(f"MoMo answered HTTP {answer.status_code}, not a JSON object")
    return {}


def provider_from_settings(settings: Settings) -> MomoProvider | None:
    """The connector ZAMIO_MOMO_* describe, or None when ZAMIO_MOMO_URL is unset."""
    if settings.momo_url is None:
        return None
    if not (settings.momo_api_user and settings.momo_api_key and settings.momo_subscription_key):
        # config.validate refuses this at start; a Settings made another way gets the same word.
        raise ValueError(
            "ZAMIO_MOMO_URL is set: set ZAMIO_MOMO_API_USER, _API_KEY and _SUBSCRIPTION_KEY too"
        )
    return MomoProvider(
        settings.momo_url,
        settings.momo_api_user,
        settings.momo_api_key,
        settings.momo_subscription_key,
        environment=settings.momo_environment,
        timeout_s=settings.momo_timeout_s,
    )
