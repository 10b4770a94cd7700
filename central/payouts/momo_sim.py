"""A simulator of MTN MoMo's Disbursement API (momodeveloper.mtn.com), a real HTTP server that the
demo, the tests and the benchmark pay through; production points ZAMIO_MOMO_URL at MTN instead.

The API, as MTN documents it:
- `POST /disbursement/token/`: HTTP Basic (API user UUID : API key) and `Ocp-Apim-Subscription-Key`
  -> 200 `{"access_token", "token_type": "access_token", "expires_in"}` (token_ttl_s, 3600);
  401 for a bad key or credentials.
- `POST /disbursement/v1_0/transfer`: `Authorization: Bearer`, `X-Reference-Id` (a UUID v4),
  `X-Target-Environment` (sandbox unless configured), `Ocp-Apim-Subscription-Key`, optional
  `X-Callback-Url`; body `{"amount": "12.50", "currency", "externalId", "payee": {"partyIdType":
  "MSISDN", "partyId"}, "payerMessage", "payeeNote"}` -> 202, empty; 409 RESOURCE_ALREADY_EXIST
  for a reference seen before; 400 for a bad header or body (INVALID_CURRENCY for a currency not
  accepted: GHS by default; MTN's own sandbox takes EUR only); 401 for a missing or expired token;
  500 NOT_ALLOWED_TARGET_ENVIRONMENT for another environment, as MTN does.
- `GET /disbursement/v1_0/transfer/{referenceId}` -> 200 `{amount, currency,
  financialTransactionId (when paid), externalId, payee, payerMessage, payeeNote, status
  (PENDING | SUCCESSFUL | FAILED), reason (when FAILED)}`; 404 RESOURCE_NOT_FOUND.
- `GET /disbursement/v1_0/accountholder/msisdn/{msisdn}/active` -> `{"result": true|false}`.
- `GET /disbursement/v1_0/account/balance` -> `{"availableBalance", "currency"}`: the simulator
  keeps a balance; a transfer it cannot cover fails with NOT_ENOUGH_FUNDS.

What becomes of a transfer is chosen by the **last six digits** of the payee's number, like MTN's
sandbox test numbers 46733123450.. (so 46733123450 and the Ghanaian 233241123450 act alike):
123450 FAILED INTERNAL_PROCESSING_ERROR; 123451 FAILED APPROVAL_REJECTED; 123452 PENDING for
stuck_ms (10 min), then FAILED EXPIRED (a provider that times out); 123453 PENDING for
slow_delay_ms (5 s), then SUCCESSFUL; 123454 PENDING for slow_delay_ms, then FAILED
COULD_NOT_PERFORM_TRANSACTION; 123455 FAILED NOT_ENOUGH_FUNDS; 123457 an inactive account (the
account-holder check says false, a transfer FAILED PAYEE_NOT_FOUND). Every other number: PENDING
for success_delay_ms, then SUCCESSFUL. Fast failures also wait success_delay_ms.

When a transfer reaches its final state, its status body is sent once, by PUT (MTN's v1_0
callbacks; a receiver should take POST too) to its X-Callback-Url, and never retried;
lose_callback_rate drops it, duplicate_callback_rate sends it twice.

Faults (momo_sim_rules.Faults; CLI flags, or the control API): a 500 before a transfer is stored
(fail_next, error_rate), a transfer stored and then answered 500 (accept_then_500_*) or held for
hold_ms past the client's timeout (timeout_*; the client cannot know it was taken; a retry's 409
meets these too), GETs answered 500 (status_*), a delay before every answer (delay_ms), lost or
duplicated callbacks.

The control API, unauthenticated (bind the simulator to loopback): `GET|POST /_sim/faults`
(POST merges the fields given), `GET /_sim/transfers[?reference=&external_id=]` (with each
reference's POST count and the externalIds held under more than one reference),
`POST /_sim/transfers/{ref}/settle {"status", "reason"}` (end a pending transfer now),
`POST /_sim/tokens/expire`, `POST /_sim/balance {"availableBalance"}`, `GET /_sim/stats`,
`POST /_sim/reset` (everything as started).
"""

from __future__ import annotations

import dataclasses
import heapq
import hmac
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from random import Random
from typing import Any
from urllib.parse import urlsplit

import requests
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from central.payouts.momo_sim_rules import (
    ACCEPT_THEN_500,
    FAIL,
    FAILED,
    FAST,
    PENDING,
    SUCCESSFUL,
    TIMEOUT,
    BadTransfer,
    Faults,
    Outcome,
    TransferRequest,
    callback_copies,
    delay_ms_of,
    is_uuid,
    is_uuid4,
    merged_faults,
    money_text,
    outcome_for,
    parse_transfer,
    status_fault,
    transfer_fault,
)
from central.simulators import (
    json_body,
    json_response,
    make_simulator_server,
    serve_in_thread,
    server_url,
)

logger = logging.getLogger(__name__)

CALLBACK_THREADS = 8  # callbacks in flight at once
CALLBACK_TIMEOUT_S = 5.0
SUBSCRIPTION_HEADER = "Ocp-Apim-Subscription-Key"
# Azure API Management's answers (MTN's gateway), and MTN's own error bodies.
BAD_SUBSCRIPTION = {
    "statusCode": 401,
    "message": "Access denied due to invalid subscription key. Make sure to provide a valid key"
    " for an active subscription.",
}
BAD_TOKEN = {"statusCode": 401, "message": "Unauthorized. Access token is missing or invalid."}
LOGIN_FAILED = {"error": "login_failed"}
INTERNAL_ERROR = {
    "code": "INTERNAL_PROCESSING_ERROR",
    "message": "An internal error occurred while processing.",
}
ALREADY_EXISTS = {
    "code": "RESOURCE_ALREADY_EXIST",
    "message": "Duplicated reference id. Creation of resource failed.",
}
NOT_FOUND = {"code": "RESOURCE_NOT_FOUND", "message": "Requested resource was not found."}
WRONG_ENVIRONMENT = {
    "code": "NOT_ALLOWED_TARGET_ENVIRONMENT",
    "message": "Access to target environment is forbidden.",
}

ROUTES = Map(
    [
        Rule("/disbursement/token/", endpoint="token", methods=["POST"], strict_slashes=False),
        Rule("/disbursement/v1_0/transfer", endpoint="transfer", methods=["POST"]),
        Rule("/disbursement/v1_0/transfer/<reference>", endpoint="status", methods=["GET"]),
        Rule(
            "/disbursement/v1_0/accountholder/<id_type>/<party_id>/active",
            endpoint="active",
            methods=["GET"],
        ),
        Rule("/disbursement/v1_0/account/balance", endpoint="balance", methods=["GET"]),
        Rule("/_sim/faults", endpoint="faults", methods=["GET", "POST"]),
        Rule("/_sim/transfers", endpoint="transfers", methods=["GET"]),
        Rule("/_sim/transfers/<reference>/settle", endpoint="settle", methods=["POST"]),
        Rule("/_sim/tokens/expire", endpoint="expire_tokens", methods=["POST"]),
        Rule("/_sim/balance", endpoint="set_balance", methods=["POST"]),
        Rule("/_sim/stats", endpoint="stats", methods=["GET"]),
        Rule("/_sim/reset", endpoint="reset", methods=["POST"]),
    ]
)


@dataclass(frozen=True)
class SimConfig:
    """How the simulator is set up: the credentials it takes and how fast transfers end."""

    api_user: str
    api_key: str = dataclasses.field(repr=False)
    subscription_key: str = dataclasses.field(repr=False)
    environment: str = "sandbox"
    currencies: tuple[str, ...] = ("GHS",)
    success_delay_ms: int = 200  # PENDING this long, then the outcome
    slow_delay_ms: int = 5_000  # the slow test numbers (123453, 123454)
    stuck_ms: int = 600_000  # the stuck test number (123452)
    token_ttl_s: int = 3600
    balance: Decimal = Decimal("100000000.00")
    seed: int | None = None  # of the fault draws, for a repeatable run


@dataclass
class Transfer:
    """One transfer the simulator holds, under its reference."""

    reference: str
    request: TransferRequest
    callback_url: str | None
    outcome: Outcome
    settle_at: float  # monotonic seconds
    reserved: bool  # the amount is taken from the balance (given back if it fails)
    state: str = PENDING
    reason: str | None = None
    financial_id: str | None = None
    posts: int = 1  # POSTs seen under this reference: 1 + the 409s
    callbacks_sent: int = 0

    def body(self) -> dict[str, Any]:
        """The transfer as MTN's GET (and its callback) shows it."""
        body: dict[str, Any] = {
            "amount": self.request.amount,
            "currency": self.request.currency,
            "externalId": self.request.external_id,
            "payee": {"partyIdType": "MSISDN", "partyId": self.request.msisdn},
            "payerMessage": self.request.payer_message,
            "payeeNote": self.request.payee_note,
            "status": self.state,
        }
        if self.financial_id is not None:
            body["financialTransactionId"] = self.financial_id
        if self.reason is not None:
            body["reason"] = self.reason
        return body

    def listing(self) -> dict[str, Any]:
        """The transfer as /_sim/transfers lists it: MTN's body with the simulator's counts."""
        return {
            "referenceId": self.reference,
            **self.body(),
            "posts": self.posts,
            "callbacks_sent": self.callbacks_sent,
        }


class MomoSimulator:
    """The simulator's state and its WSGI app: tokens, transfers, a balance, faults, and a
    thread that ends transfers on time and sends their callbacks."""

    def __init__(self, config: SimConfig, faults: Faults | None = None) -> None:
        """A simulator set up by `config`, with `faults` injected from the start."""
        self.config = config
        self._initial_faults = faults or Faults()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._callbacks = ThreadPoolExecutor(CALLBACK_THREADS, thread_name_prefix="momo-callback")
        self._scheduler = threading.Thread(target=self._run_scheduler, name="momo-sim", daemon=True)
        self._reset_state()

    def _reset_state(self) -> None:
        """Everything as started: no tokens, no transfers, the first faults and balance."""
        self.faults = dataclasses.replace(self._initial_faults)
        self.tokens: dict[str, float] = {}  # token -> monotonic expiry
        self.transfers: dict[str, Transfer] = {}
        self.balance = self.config.balance
        self.stats: Counter[str] = Counter()
        self._due: list[tuple[float, int, str]] = []  # (settle_at, order, reference)
        self._rng = Random(self.config.seed)
        self._financial_ids = 100_000_000

    def start(self) -> None:
        """Start ending transfers on time."""
        self._scheduler.start()

    def close(self) -> None:
        """Stop the scheduler and wait for callbacks in flight."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._scheduler.join(5)
        self._callbacks.shutdown(wait=True, cancel_futures=True)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        """WSGI: route the request to its endpoint."""
        request = Request(environ)
        try:
            endpoint, args = ROUTES.bind_to_environ(environ).match()
            response = getattr(self, f"_{endpoint}")(request, **args)
        except HTTPException as error:
            response = json_response(
                {"statusCode": error.code, "message": error.description}, error.code or 500
            )
        return response(environ, start_response)

    # The API's doors, checked as MTN's gateway does: subscription key, token, environment.

    def _gate(self, request: Request, *, bearer: bool = True) -> Response | None:
        """The refusal of an API request that fails the gateway's checks, or None."""
        with self._lock:
            delay_ms = self.faults.delay_ms
        if delay_ms:
            time.sleep(delay_ms / 1000)
        key = request.headers.get(SUBSCRIPTION_HEADER, "")
        if not hmac.compare_digest(key.encode(), self.config.subscription_key.encode()):
            return self._refuse("bad_subscription_key", BAD_SUBSCRIPTION, 401)
        if not bearer:
            return None
        auth = request.authorization
        if auth is None or auth.type != "bearer" or not self._token_valid(auth.token or ""):
            return self._refuse("bad_token", BAD_TOKEN, 401)
        environment = request.headers.get("X-Target-Environment")
        if environment is None:
            return self._refuse("bad_request", _bad("X-Target-Environment is required"), 400)
        if environment != self.config.environment:
            return self._refuse("wrong_environment", WRONG_ENVIRONMENT, 500)
        return None

    def _refuse(self, what: str, body: dict, status: int) -> Response:
        """Count a refusal and make its answer."""
        with self._lock:
            self.stats[what] += 1
        return json_response(body, status)

    def _token_valid(self, token: str) -> bool:
        """Whether `token` was issued here and has not expired."""
        with self._lock:
            expiry = self.tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def _token(self, request: Request) -> Response:
        """POST /disbursement/token/: a bearer token for the API user of the Basic credentials."""
        refused = self._gate(request, bearer=False)
        if refused is not None:
            return refused
        auth = request.authorization
        if auth is None or auth.type != "basic" or not self._credentials_ok(auth):
            return self._refuse("login_failed", LOGIN_FAILED, 401)
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self.tokens = {t: e for t, e in self.tokens.items() if e > now}
            self.tokens[token] = now + self.config.token_ttl_s
            self.stats["tokens_issued"] += 1
        return json_response(
            {
                "access_token": token,
                "token_type": "access_token",
                "expires_in": self.config.token_ttl_s,
            }
        )

    def _credentials_ok(self, auth: Any) -> bool:
        """Whether Basic `auth` names the API user with its key."""
        user_ok = hmac.compare_digest((auth.username or "").encode(), self.config.api_user.encode())
        key_ok = hmac.compare_digest((auth.password or "").encode(), self.config.api_key.encode())
        return user_ok and key_ok

    def _transfer(self, request: Request) -> Response:
        """POST /disbursement/v1_0/transfer: take a transfer under its X-Reference-Id."""
        refused = self._gate(request)
        if refused is not None:
            return refused
        reference = request.headers.get("X-Reference-Id")
        if not is_uuid4(reference):
            return self._refuse("bad_request", _bad("X-Reference-Id must be a UUID v4"), 400)
        callback_url = request.headers.get("X-Callback-Url")
        if callback_url is not None and not _is_http_url(callback_url):
            return self._refuse("bad_request", _bad("X-Callback-Url must be an http(s) URL"), 400)
        try:
            order = parse_transfer(json_body(request), self.config.currencies)
        except BadTransfer as error:
            return self._refuse("bad_request", {"code": error.code, "message": str(error)}, 400)
        with self._wake:
            self.stats["transfer_posts"] += 1
            fault = transfer_fault(self.faults, self._rng)
            if fault is not None:
                self.stats[f"fault_{fault}"] += 1
            if fault == FAIL:
                return json_response(INTERNAL_ERROR, 500)
            held = self.transfers.get(reference)
            if held is not None:
                held.posts += 1
                self.stats["conflicts"] += 1
                answer = json_response(ALREADY_EXISTS, 409)
            else:
                self._hold(reference, order, callback_url)
                answer = json_response(None, 202)
            hold_s = self.faults.hold_ms / 1000
        # The request was handled; its answer (a 202, or a retry's 409) is what gets lost.
        if fault == ACCEPT_THEN_500:
            return json_response(INTERNAL_ERROR, 500)
        if fault == TIMEOUT:
            time.sleep(hold_s)  # the client has given up by now, not knowing it was taken
        return answer

    def _hold(self, reference: str, order: TransferRequest, callback_url: str | None) -> None:
        """Store a new transfer, its amount taken from the balance if it is to succeed, and
        plan its end (lock held)."""
        outcome = outcome_for(order.msisdn)
        reserved = False
        if outcome.state == SUCCESSFUL:
            if order.amount_value <= self.balance:
                self.balance -= order.amount_value
                reserved = True
            else:
                outcome = Outcome(FAILED, "NOT_ENOUGH_FUNDS", FAST)
        config = self.config
        delay_ms = delay_ms_of(
            outcome.pace, config.success_delay_ms, config.slow_delay_ms, config.stuck_ms
        )
        settle_at = time.monotonic() + delay_ms / 1000
        self.transfers[reference] = Transfer(
            reference, order, callback_url, outcome, settle_at, reserved
        )
        heapq.heappush(self._due, (settle_at, len(self.transfers), reference))
        self.stats["accepted"] += 1
        self._wake.notify()

    def _status(self, request: Request, reference: str) -> Response:
        """GET /disbursement/v1_0/transfer/{referenceId}: what became of a transfer."""
        refused = self._gate(request)
        if refused is not None:
            return refused
        if not is_uuid(reference):
            return self._refuse("bad_request", _bad("the reference must be a UUID"), 400)
        with self._lock:
            self.stats["status_gets"] += 1
            if status_fault(self.faults, self._rng):
                self.stats["fault_status"] += 1
                return json_response(INTERNAL_ERROR, 500)
            self._settle_due(time.monotonic())
            transfer = self.transfers.get(reference)
            if transfer is None:
                self.stats["not_found"] += 1
                return json_response(NOT_FOUND, 404)
            return json_response(transfer.body())

    def _active(self, request: Request, id_type: str, party_id: str) -> Response:
        """GET .../accountholder/msisdn/{msisdn}/active: whether the payee can be paid."""
        refused = self._gate(request)
        if refused is not None:
            return refused
        if id_type.lower() != "msisdn" or not party_id.isdigit():
            return self._refuse("bad_request", _bad("this simulator checks MSISDNs only"), 400)
        return json_response({"result": outcome_for(party_id).active})

    def _balance(self, request: Request) -> Response:
        """GET /disbursement/v1_0/account/balance: what is left to pay out."""
        refused = self._gate(request)
        if refused is not None:
            return refused
        with self._lock:
            balance = self.balance
        return json_response(
            {"availableBalance": money_text(balance), "currency": self.config.currencies[0]}
        )

    # Ending transfers on time, and their callbacks.

    def _run_scheduler(self) -> None:
        """End each transfer when due, until closed."""
        with self._wake:
            while not self._closed:
                now = time.monotonic()
                self._settle_due(now)
                self._wake.wait(self._due[0][0] - now if self._due else None)

    def _settle_due(self, now: float) -> None:
        """End every pending transfer whose time has come (lock held)."""
        while self._due and self._due[0][0] <= now:
            _, _, reference = heapq.heappop(self._due)
            transfer = self.transfers.get(reference)
            if transfer is not None and transfer.state == PENDING:
                self._finish(transfer, transfer.outcome.state, transfer.outcome.reason)

    def _finish(self, transfer: Transfer, state: str, reason: str | None) -> None:
        """Give `transfer` its final state, settle the balance and send its callback once
        (lock held)."""
        if state == FAILED and transfer.reserved:
            self.balance += transfer.request.amount_value
            transfer.reserved = False
        transfer.state = state
        transfer.reason = reason if state == FAILED else None
        if state == SUCCESSFUL:
            self._financial_ids += 1
            transfer.financial_id = str(self._financial_ids)
        self.stats[f"settled_{state.lower()}"] += 1
        if transfer.callback_url is None:
            return
        copies = callback_copies(self.faults, self._rng)
        self.stats["callbacks_lost" if copies == 0 else "callbacks_planned"] += 1
        self.stats["callbacks_duplicated"] += copies == 2
        if copies and not self._closed:
            self._callbacks.submit(self._call_back, transfer, transfer.body(), copies)

    def _call_back(self, transfer: Transfer, body: dict[str, Any], copies: int) -> None:
        """PUT the final status to the transfer's callback URL `copies` times, never retried."""
        for _ in range(copies):
            try:
                answer = requests.put(transfer.callback_url, json=body, timeout=CALLBACK_TIMEOUT_S)
            except requests.RequestException as error:
                logger.info("momo-sim: callback of %s failed: %s", transfer.reference, error)
                with self._lock:
                    self.stats["callbacks_failed"] += 1
                continue
            with self._lock:
                transfer.callbacks_sent += 1
                self.stats["callbacks_sent"] += 1
                self.stats[f"callbacks_answered_{answer.status_code}"] += 1

    # The control API (/_sim/...), for tests and benchmarks.

    def _faults(self, request: Request) -> Response:
        """GET the faults injected now; POST some fields to change them."""
        with self._lock:
            if request.method == "POST":
                try:
                    self.faults = merged_faults(self.faults, json_body(request))
                except ValueError as error:
                    return json_response({"error": str(error)}, 400)
            return json_response(self.faults.as_dict())

    def _transfers(self, request: Request) -> Response:
        """The transfers held (filtered by ?reference= or ?external_id=), with the externalIds
        held under more than one reference."""
        reference = request.args.get("reference")
        external_id = request.args.get("external_id")
        with self._lock:
            self._settle_due(time.monotonic())
            held = list(self.transfers.values())
        per_external_id = Counter(t.request.external_id for t in held)
        listed = [
            t.listing()
            for t in held
            if reference in (None, t.reference) and external_id in (None, t.request.external_id)
        ]
        twice = sorted(e for e, n in per_external_id.items() if n > 1)
        return json_response(
            {"count": len(listed), "transfers": listed, "duplicate_external_ids": twice}
        )

    def _settle(self, request: Request, reference: str) -> Response:
        """End a pending transfer now: {"status": SUCCESSFUL|FAILED, "reason": ...}."""
        body = json_body(request)
        if not isinstance(body, dict) or body.get("status") not in (SUCCESSFUL, FAILED):
            return json_response({"error": 'expected {"status": SUCCESSFUL|FAILED}'}, 400)
        with self._lock:
            transfer = self.transfers.get(reference)
            if transfer is None:
                return json_response(NOT_FOUND, 404)
            if transfer.state != PENDING:
                return json_response({"error": f"already {transfer.state}"}, 409)
            if body["status"] == SUCCESSFUL and not transfer.reserved:
                if transfer.request.amount_value > self.balance:
                    return json_response({"error": "the balance cannot cover it"}, 409)
                self.balance -= transfer.request.amount_value
                transfer.reserved = True
            self._finish(
                transfer, body["status"], body.get("reason") or "INTERNAL_PROCESSING_ERROR"
            )
            return json_response(transfer.listing())

    def _expire_tokens(self, request: Request) -> Response:
        """Make every token issued so far expired (clients must get another)."""
        with self._lock:
            expired = len(self.tokens)
            self.tokens.clear()
        return json_response({"expired": expired})

    def _set_balance(self, request: Request) -> Response:
        """Set the balance left to pay out: {"availableBalance": "12.50"}."""
        body = json_body(request)
        try:
            balance = Decimal(body["availableBalance"])
        except (TypeError, KeyError, InvalidOperation):
            return json_response({"error": 'expected {"availableBalance": "12.50"}'}, 400)
        with self._lock:
            self.balance = balance
        return json_response({"availableBalance": money_text(balance)})

    def _stats(self, request: Request) -> Response:
        """Counts of what the simulator served, refused, injected and sent."""
        with self._lock:
            self._settle_due(time.monotonic())
            stats = dict(self.stats)
            stats["transfers"] = len(self.transfers)
            stats["pending"] = sum(t.state == PENDING for t in self.transfers.values())
            stats["availableBalance"] = money_text(self.balance)
        return json_response(stats)

    def _reset(self, request: Request) -> Response:
        """Forget every token and transfer; faults and balance as started."""
        with self._wake:
            self._reset_state()
            self._wake.notify()
        return json_response({"reset": True})


def _bad(message: str) -> dict[str, str]:
    """MTN's body of a 400."""
    return {"code": "BAD_REQUEST", "message": message}


def _is_http_url(text: str) -> bool:
    """Whether `text` is an http(s) URL with a host."""
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def start_in_thread(
    config: SimConfig, faults: Faults | None = None, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, Callable[[], None]]:
    """Run a simulator in this process's threads (the demo, tests); returns its URL and a
    stop() that closes it."""
    simulator = MomoSimulator(config, faults)
    simulator.start()
    url, stop_server = serve_in_thread(simulator, host, port)

    def stop() -> None:
        """Stop serving, then the simulator's own threads."""
        stop_server()
        simulator.close()

    return url, stop


def serve(
    config: SimConfig, faults: Faults, host: str, port: int, announce: Callable[[str], None]
) -> None:
    """Run a simulator in the foreground until interrupted; `announce` gets its URL first."""
    simulator = MomoSimulator(config, faults)
    simulator.start()
    server = make_simulator_server(simulator, host, port)
    announce(server_url(server))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        simulator.close()
