"""The simulator's callback, as MTN's: the final status PUT once to X-Callback-Url and never
retried; lost or sent twice when asked, so the payouts can be tested against both."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from werkzeug.wrappers import Request, Response

from central.payouts.momo import MomoProvider
from central.payouts.provider import FAILED, SUCCESSFUL
from central.simulators import serve_in_thread
from tests.integration.payouts.conftest import MomoSim, make_order, settled, wait_until

pytestmark = pytest.mark.integration


@dataclass
class Receiver:
    """A local HTTP server taking callbacks: what came, and what it answers."""

    url: str = ""
    received: list[tuple[str, dict]] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict, start_response) -> object:
        """WSGI: record the method and JSON body; answer `status`."""
        request = Request(environ)
        with self.lock:
            self.received.append((request.method, json.loads(request.get_data())))
        return Response(b"", status=self.status)(environ, start_response)

    def bodies(self) -> list[dict]:
        """The callback bodies received so far."""
        with self.lock:
            return [body for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A callback receiver listening on a free port."""
    receiver = Receiver()
    url, stop = serve_in_thread(receiver)
    receiver.url = f"{url}/momo/callback"
    yield receiver
    stop()


def callbacks_done(momo_sim: MomoSim, count: int) -> bool:
    """Whether the simulator has finished `count` callback requests (answered or not)."""
    stats = momo_sim.control.stats()
    return stats.get("callbacks_sent", 0) + stats.get("callbacks_failed", 0) >= count


def test_the_final_status_is_put_once(
    momo_sim: MomoSim, provider: MomoProvider, receiver: Receiver
) -> None:
    """One PUT with MTN's status body, when the transfer ends; none while it is pending."""
    order = make_order(callback_url=receiver.url)
    provider.submit(order)
    assert settled(provider, order.reference).state == SUCCESSFUL
    wait_until(lambda: callbacks_done(momo_sim, 1), "the callback")
    assert [method for method, _ in receiver.received] == ["PUT"]
    body = receiver.bodies()[0]
    assert body["status"] == SUCCESSFUL and body["externalId"] == order.external_id
    assert body["amount"] == "12.50" and body["financialTransactionId"]
    stats = momo_sim.control.stats()
    assert (stats["callbacks_planned"], stats.get("callbacks_duplicated", 0)) == (1, 0)


def test_a_failed_transfer_calls_back_with_its_reason(
    momo_sim: MomoSim, provider: MomoProvider, receiver: Receiver
) -> None:
    """A failure's callback carries the reason, as the GET does."""
    order = make_order(msisdn="233241123455", callback_url=receiver.url)
    provider.submit(order)
    settled(provider, order.reference)
    wait_until(lambda: callbacks_done(momo_sim, 1), "the callback")
    assert [(b["status"], b["reason"]) for b in receiver.bodies()] == [(FAILED, "NOT_ENOUGH_FUNDS")]


def test_a_lost_callback_is_never_sent(
    momo_sim: MomoSim, provider: MomoProvider, receiver: Receiver
) -> None:
    """lose_callback_rate 1: the transfer ends, is counted as lost, and nothing arrives."""
    momo_sim.control.faults(lose_callback_rate=1.0)
    order = make_order(callback_url=receiver.url)
    provider.submit(order)
    assert settled(provider, order.reference).state == SUCCESSFUL
    stats = momo_sim.control.stats()
    assert stats["callbacks_lost"] == 1 and "callbacks_planned" not in stats
    assert receiver.received == []


def test_a_duplicated_callback_comes_twice_alike(
    momo_sim: MomoSim, provider: MomoProvider, receiver: Receiver
) -> None:
    """duplicate_callback_rate 1: the same body arrives twice."""
    momo_sim.control.faults(duplicate_callback_rate=1.0)
    order = make_order(callback_url=receiver.url)
    provider.submit(order)
    settled(provider, order.reference)
    wait_until(lambda: callbacks_done(momo_sim, 2), "both callbacks")
    first, second = receiver.bodies()
    assert first == second and first["status"] == SUCCESSFUL


def test_a_refused_callback_is_not_retried(
    momo_sim: MomoSim, provider: MomoProvider, receiver: Receiver
) -> None:
    """The receiver answers 500: the simulator does not try again."""
    receiver.status = 500
    order = make_order(callback_url=receiver.url)
    provider.submit(order)
    settled(provider, order.reference)
    wait_until(lambda: callbacks_done(momo_sim, 1), "the callback")
    stats = momo_sim.control.stats()
    assert (stats["callbacks_sent"], stats["callbacks_answered_500"]) == (1, 1)
    assert len(receiver.received) == 1
