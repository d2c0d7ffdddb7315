"""The Graph API client against the local WhatsApp simulator: what it retries, and what it never sends twice.

The simulator speaks Meta's wire format (error bodies, codes, HTTP statuses) and can fail or hang
on demand, so each rule is checked on the real HTTP exchange, with the backoff sleeps recorded
instead of slept.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from local.servers import RunningServer
from local.simulator import DEFAULT_ACCESS_TOKEN, WhatsAppSimulator, graph_api_url, start_simulator
from shared.whatsapp.client import RetryPolicy, WhatsAppClient
from shared.whatsapp.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    OutcomeUnknown,
    OutsideCustomerWindow,
    RateLimited,
    ServiceUnavailable,
)

CUSTOMER = "15550001111"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer[WhatsAppSimulator]]:
    running = start_simulator(status_delay_seconds=0, webhook_url="http://127.0.0.1:9/unused")
    yield running
    running.stop()


@pytest.fixture
def simulator(server: RunningServer[WhatsAppSimulator]) -> WhatsAppSimulator:
    server.state.reset()
    server.state.configure({"enforce_service_window": False})
    return server.state


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(server: RunningServer[WhatsAppSimulator], sleeps: Sleeps, **kwargs) -> WhatsAppClient:
    return WhatsAppClient(
        graph_api_url(server), DEFAULT_ACCESS_TOKEN, retry=RetryPolicy(attempts=4), sleep=sleeps, **kwargs
    )


def phone_number_id(simulator: WhatsAppSimulator) -> str:
    return simulator.config.phone_number_id


def test_a_rate_limited_send_is_retried_with_backoff_and_goes_out_once(server, simulator) -> None:
    sleeps = Sleeps()
    simulator.add_faults([{"target": "send", "code": 130429, "count": 2}])
    wamid = client_for(server, sleeps).send_text(phone_number_id(simulator), CUSTOMER, "hello")
    assert [m["wamid"] for m in simulator.outbox()] == [wamid]
    assert [e["status"] for e in simulator.events("send")] == [400, 400, 200]
    assert len(sleeps) == 2 and all(0 <= s <= 8.0 for s in sleeps)


def test_a_send_that_keeps_failing_gives_up_after_the_attempts_with_the_last_error(server, simulator) -> None:
    sleeps = Sleeps()
    simulator.add_faults([{"target": "send", "code": 131000, "count": 10}])
    with pytest.raises(ServiceUnavailable) as raised:
        client_for(server, sleeps).send_text(phone_number_id(simulator), CUSTOMER, "hello")
    assert raised.value.code == 131000
    assert len(simulator.events("send")) == 4 and len(sleeps) == 3
    assert simulator.outbox() == []


def test_a_refusal_that_a_retry_cannot_fix_is_not_retried(server, simulator) -> None:
    sleeps = Sleeps()
    simulator.add_faults([{"target": "send", "code": 131047}])
    with pytest.raises(OutsideCustomerWindow):
        client_for(server, sleeps).send_text(phone_number_id(simulator), CUSTOMER, "hello")
    assert len(simulator.events("send")) == 1 and sleeps == []


def test_a_send_whose_answer_never_comes_is_never_sent_again(server, simulator) -> None:
    sleeps = Sleeps()
    simulator.add_faults([{"target": "send", "hang_seconds": 1.0}])
    client = client_for(server, sleeps, timeout=(1.0, 0.3))
    with pytest.raises(OutcomeUnknown):
        client.send_text(phone_number_id(simulator), CUSTOMER, "hello")
    # Meta got the request and sent the message; a retry would have delivered it twice.
    deadline = time.monotonic() + 5
    while not simulator.outbox() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(simulator.outbox()) == 1
    assert len(simulator.events("send")) == 1 and sleeps == []


def test_a_mark_read_whose_answer_never_comes_is_retried_because_it_is_idempotent(server, simulator) -> None:
    sleeps = Sleeps()
    simulator.add_faults([{"target": "mark_read", "hang_seconds": 1.0}])
    client = client_for(server, sleeps, timeout=(1.0, 0.3))
    client.mark_read(phone_number_id(simulator), "wamid.anything")
    assert len(sleeps) == 1


def test_a_connection_refused_is_retried_and_reported_as_never_sent() -> None:
    sleeps = Sleeps()
    client = WhatsAppClient("http://127.0.0.1:9/v27.0", "token", retry=RetryPolicy(attempts=3), sleep=sleeps)
    with pytest.raises(ConnectionFailed):
        client.send_text("123", CUSTOMER, "hello")
    assert len(sleeps) == 2


def test_an_invalid_token_fails_at_once_and_loudly(server, simulator) -> None:
    sleeps = Sleeps()
    client = WhatsAppClient(graph_api_url(server), "not-the-token", sleep=sleeps)
    with pytest.raises(AuthenticationFailed):
        client.send_text(phone_number_id(simulator), CUSTOMER, "hello")
    assert sleeps == [] and simulator.outbox() == []


def test_a_rate_limit_is_retryable_and_carries_metas_code(server, simulator) -> None:
    simulator.add_faults([{"target": "send", "code": 131056, "count": 4}])
    with pytest.raises(RateLimited) as raised:
        client_for(server, Sleeps()).send_text(phone_number_id(simulator), CUSTOMER, "hello")
    assert raised.value.code == 131056 and raised.value.http_status == 400


def test_a_text_over_the_limit_is_refused_before_anything_is_sent(server, simulator) -> None:
    with pytest.raises(ValueError, match="over WhatsApp's"):
        client_for(server, Sleeps()).send_text(phone_number_id(simulator), CUSTOMER, "x" * 5000)
    assert simulator.events("send") == []
