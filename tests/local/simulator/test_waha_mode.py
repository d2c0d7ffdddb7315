"""The simulator as a WAHA server: WAHA's API, its files, and its signed webhooks."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from local.simulator import start_simulator
from local.simulator.config import DEFAULT_WAHA_API_KEY, DEFAULT_WAHA_HMAC_KEY
from shared.whatsapp.waha.parse import parse_waha_delivery
from shared.whatsapp.waha.signature import verify_signature
from tests.support.simulator import Receiver, wait_until

USER = "15551234567"
KEY = {"X-Api-Key": DEFAULT_WAHA_API_KEY}


@pytest.fixture
def waha_receiver():
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def sim(waha_receiver):
    running = start_simulator(
        webhook_url=None,
        waha_webhook_url=waha_receiver.url,
        status_delay_seconds=0.02,
        webhook_retry_delays=(0.0, 0.05),
    )
    yield running
    running.stop()


def events(receiver) -> list[str]:
    return [b["event"] for b in receiver.bodies()]


def send_text(sim, text: str = "Hello", key: dict | None = None, **extra) -> requests.Response:
    body = {"session": "default", "chatId": f"{USER}@c.us", "text": text, **extra}
    return requests.post(f"{sim.url}/api/sendText", json=body, headers=KEY if key is None else key, timeout=5)


def test_a_user_s_message_is_posted_as_message_then_message_any_signed(sim, waha_receiver) -> None:
    result = sim.state.send_inbound({"provider": "waha", "text": "¿Abren hoy?"}, sim.url)
    assert result["webhook_status"] == 200
    wait_until(lambda: len(waha_receiver.calls) == 2)
    assert events(waha_receiver) == ["message", "message.any"]
    for headers, body in waha_receiver.calls:
        verify_signature(
            DEFAULT_WAHA_HMAC_KEY, body, headers["X-Webhook-Hmac"], headers["X-Webhook-Hmac-Algorithm"]
        )
        assert headers["X-Webhook-Request-Id"] and headers["X-Webhook-Timestamp"]
        assert "¿".encode() in body  # WAHA does not escape non-ASCII
    delivery = parse_waha_delivery(waha_receiver.calls[0][1], {"default": "waha-default"})
    (message,) = delivery.value.messages
    assert (message.wamid, message.sender, message.text) == (result["wamid"], USER, "¿Abren hoy?")


def test_a_send_needs_the_api_key(sim) -> None:
    assert send_text(sim, key={}).status_code == 401
    assert send_text(sim, key={"X-Api-Key": "wrong"}).status_code == 401
    assert sim.state.outbox() == []


def test_a_send_is_reported_as_our_own_message_then_acks_up_to_read(sim, waha_receiver) -> None:
    response = send_text(sim, "We open at 7.")
    assert response.status_code == 201
    wamid = response.json()["id"]["_serialized"]
    wait_until(lambda: len(waha_receiver.bodies()) == 4)
    bodies = waha_receiver.bodies()
    assert [b["event"] for b in bodies] == ["message.any", "message.ack", "message.ack", "message.ack"]
    assert bodies[0]["payload"]["fromMe"] is True and bodies[0]["payload"]["source"] == "api"
    assert [b["payload"]["ackName"] for b in bodies[1:]] == ["SERVER", "DEVICE", "READ"]
    assert {b["payload"]["id"] for b in bodies} == {wamid}
    assert sim.state.outbox(USER)[0]["status"] == "read"


def test_an_unknown_session_is_not_found(sim) -> None:
    body = {"session": "other", "chatId": f"{USER}@c.us", "text": "x"}
    assert requests.post(f"{sim.url}/api/sendText", json=body, headers=KEY, timeout=5).status_code == 404


def test_a_user_s_photo_is_served_from_api_files_with_the_key(sim, waha_receiver) -> None:
    data = b"\x89PNG\r\n\x1a\n" + b"x" * 20
    sim.state.send_inbound(
        {
            "provider": "waha",
            "type": "image",
            "data_base64": base64.b64encode(data).decode(),
            "mime_type": "image/png",
        },
        sim.url,
    )
    wait_until(lambda: waha_receiver.calls)
    media = json.loads(waha_receiver.calls[0][1])["payload"]["media"]
    assert media["mimetype"] == "image/png"
    assert requests.get(media["url"], timeout=5).status_code == 401
    got = requests.get(media["url"], headers=KEY, timeout=5)
    assert (got.status_code, got.content) == (200, data)


def test_seen_marks_the_user_s_messages_read_and_typing_shows(sim, waha_receiver) -> None:
    wamid = sim.state.send_inbound({"provider": "waha", "text": "hi"}, sim.url)["wamid"]
    seen = {"session": "default", "chatId": f"{USER}@c.us", "messageIds": [wamid]}
    assert requests.post(f"{sim.url}/api/sendSeen", json=seen, headers=KEY, timeout=5).status_code == 201
    assert sim.state.inbound()[0]["status"] == "read"
    typing = {"session": "default", "chatId": f"{USER}@c.us"}
    assert requests.post(f"{sim.url}/api/startTyping", json=typing, headers=KEY, timeout=5).status_code == 201
    assert sim.state.conversation(USER, "waha")["typing"] is True


def test_the_chat_page_s_threads_are_per_business_number(sim) -> None:
    sim.state.send_inbound({"provider": "waha", "text": "to the WAHA number"}, sim.url)
    waha = sim.state.conversation(USER, "waha")
    assert [m["text"] for m in waha["messages"]] == ["to the WAHA number"]
    assert waha["providers"] == ["cloud", "waha"]
    assert sim.state.conversation(USER)["messages"] == []


def test_the_business_typing_on_its_phone_is_message_any_from_the_app(sim, waha_receiver) -> None:
    result = requests.post(
        f"{sim.url}/_sim/waha/business-echo", json={"to": USER, "text": "I'll call you"}, timeout=5
    ).json()
    assert result["webhook_status"] == 200
    (body,) = waha_receiver.bodies()
    assert (body["event"], body["payload"]["fromMe"], body["payload"]["source"]) == (
        "message.any",
        True,
        "app",
    )
