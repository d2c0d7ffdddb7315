"""A WAHA number end to end: the simulator as a WAHA server -> /webhook/waha -> Pub/Sub -> media
and ai_reply -> the offline model -> WAHA's send API, beside the Cloud API number."""

from __future__ import annotations

import json
import time

import pytest
import requests

from local.stack import LOCAL_WAHA
from shared.whatsapp.waha.signature import ALGORITHM, ALGORITHM_HEADER, HEADER, sign
from tests.support import media_samples
from tests.support.cloud import ARTIFACTS
from tests.support.payloads import load_waha
from tests.support.system import System

NUMBER = "waha-default"  # session `default`, as `make dev` serves it


class WahaCustomer:
    """This test's customer, writing to the WAHA number."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.sim = system.simulator.state
        self.number = system.customer
        self.conversation_id = f"{NUMBER}_{self.number}"

    def say_spec(self, spec: dict) -> str:
        answer = self.sim.send_inbound(
            {"provider": "waha", "from": self.number, "name": "Test Customer", **spec},
            self.system.simulator.url,
        )
        assert answer["webhook_status"] == 200, answer
        return answer["wamid"]

    def replies(self, count: int, timeout: float = 30.0) -> list[dict]:
        return self.sim.wait_outbox(count, timeout, wa_id=self.number)

    def messages(self) -> list[dict]:
        ref = self.system.db.collection("conversations").document(self.conversation_id).collection("messages")
        return [{**d.to_dict(), "id": d.id} for d in ref.order_by("created_at").stream()]

    def conversation(self) -> dict:
        return self.system.db.collection("conversations").document(self.conversation_id).get().to_dict() or {}


def settle(seconds: float = 2.5) -> None:
    """Give a wrongly duplicated reply (message and message.any both arrive) the time to show."""
    time.sleep(seconds)


def post_signed(system: System, body: bytes) -> requests.Response:
    headers = {
        "Content-Type": "application/json",
        HEADER: sign(LOCAL_WAHA["WAHA_WEBHOOK_HMAC_KEY"], body),
        ALGORITHM_HEADER: ALGORITHM,
    }
    url = system.stack.processes["webhook"].url + "/webhook/waha"
    return requests.post(url, data=body, headers=headers, timeout=30)


def test_a_text_is_answered_once_through_waha_and_its_acks_reach_read(system: System) -> None:
    customer = WahaCustomer(system)
    wamid = customer.say_spec({"type": "text", "text": "Hola, ¿abren el domingo?"})
    (reply,) = customer.replies(1)
    assert reply["provider"] == "waha"
    assert reply["text"].endswith('You said: "Hola, ¿abren el domingo?"')
    assert (reply["to"], reply["reply_to"]) == (f"{customer.number}@c.us", wamid)
    settle()
    (only,) = system.simulator.state.outbox(customer.number)  # message and message.any: one reply
    assert only["provider"] == "waha"  # nothing went out through the Cloud API

    inbound, outbound = system.wait_for(
        lambda: (m := customer.messages()) and len(m) == 2 and m[1].get("status") == "read" and m,
        what="the reply's acks to reach read",
    )
    assert (inbound["id"], inbound["status"]) == (wamid, "answered")
    assert (outbound["sent_by"], outbound["wamid"]) == ("ai", reply["wamid"])
    assert {"sent", "delivered", "read"} <= set(outbound["status_times"])
    # Blue ticks and '...typing' went through WAHA, and the typing stopped before the reply.
    seen = [e for e in system.simulator.state.events("waha_seen") if e["body"]["messageIds"] == [wamid]]
    assert len(seen) == 1
    kinds = [e["kind"] for e in system.simulator.state.events() if e["kind"].startswith("waha_")]
    assert kinds.index("waha_start_typing") < kinds.index("waha_stop_typing") < kinds.index("waha_send")
    summary = customer.conversation()
    assert (summary["phone_number_id"], summary["display_name"]) == (NUMBER, "Test Customer")


def test_a_photo_is_fetched_from_waha_and_answered_once(system: System) -> None:
    customer = WahaCustomer(system)
    photo = media_samples.png(64, 48)
    item = system.simulator.state.store_media(photo, "image/png", "cake.png")
    customer.say_spec({"type": "image", "media_id": item.id, "caption": "is this cake available?"})
    (reply,) = customer.replies(1, timeout=60)
    assert "1 media part (image/jpeg)" in reply["text"]  # the photo, prepared for the model
    settle()
    assert len(system.simulator.state.outbox(customer.number)) == 1
    (inbound,) = [m for m in customer.messages() if m["direction"] == "inbound"]
    assert (inbound["status"], inbound["media"]["status"]) == ("answered", "ready")
    assert inbound["text"] == "is this cake available?"
    assert len(system.simulator.state.events("waha_file")) == 1  # with WAHA's key, from WAHA's host


def test_what_the_business_types_on_its_phone_is_recorded_and_never_answered(system: System) -> None:
    customer = WahaCustomer(system)
    customer.say_spec({"type": "text", "text": "is anyone there?"})
    customer.replies(1)
    echo = system.simulator.state.business_echo({"to": customer.number, "text": "Yes, Ana here!"})
    assert echo["webhook_status"] == 200
    customer.say_spec({"type": "text", "text": "great, thanks Ana"})
    settle()
    assert len(system.simulator.state.outbox(customer.number)) == 2  # the AI's first reply and Ana's
    conversation = customer.conversation()
    assert conversation["human_reply_by"] == "business_app"  # paused as a Coexistence echo pauses it
    echoed = next(m for m in customer.messages() if m["id"] == echo["wamid"])
    assert (echoed["direction"], echoed["sent_by"], echoed["text"]) == (
        "outbound",
        "business_app",
        "Yes, Ana here!",
    )


def test_a_group_message_is_ignored(system: System) -> None:
    body = json.loads(load_waha("message_group"))
    body["payload"]["participant"] = f"{system.customer}@c.us"
    assert post_signed(system, json.dumps(body).encode()).status_code == 200
    settle(1.5)
    assert system.simulator.state.outbox() == []
    conversations = [d.id for d in system.db.collection("conversations").stream()]
    assert not [c for c in conversations if "g.us" in c or c.endswith(system.customer)]


def test_the_cloud_api_number_still_answers_beside_it(system: System) -> None:
    system.say("hello over the Cloud API")
    (reply,) = system.replies(1)
    assert reply.get("provider", "cloud") == "cloud" and reply["to"] == "+" + system.customer


@pytest.mark.browser
def test_on_the_chat_page_a_customer_picks_the_waha_number_and_is_answered_there(system: System) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    from tests.dashboard.test_browser import CHROMIUM_ARGS
    from tests.support.chromium import CHROMIUM

    customer = WahaCustomer(system)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(system.simulator.url + "/")
            page.fill("#wa-id", customer.number)
            page.dispatch_event("#wa-id", "change")
            page.wait_for_selector("#business-choice:not([hidden])")
            page.select_option("#business", "waha")
            page.fill("#text", "hello from the chat page")
            page.click("#send-button")
            page.wait_for_function(
                "document.querySelector('#thread').textContent.includes('[offline model]')", timeout=30_000
            )
            (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "screenshots" / "simulator-chat-waha.png"))
        finally:
            browser.close()
    (reply,) = customer.replies(1)
    assert reply["provider"] == "waha" and "hello from the chat page" in reply["text"]
    assert customer.conversation()["phone_number_id"] == NUMBER


def test_a_send_waha_fails_with_a_5xx_is_retried_and_delivered_once(system: System) -> None:
    customer = WahaCustomer(system)
    system.fault(target="waha_send", http_status=500, count=1)
    customer.say_spec({"type": "text", "text": "are you open?"})
    (reply,) = customer.replies(1)
    assert reply["text"].endswith('You said: "are you open?"')
    settle()
    assert len(system.simulator.state.outbox(customer.number)) == 1
    assert [e["status"] for e in system.simulator.state.events("waha_send")][-2:] == [500, 201]


def test_choices_reach_a_waha_customer_as_numbered_text(system: System) -> None:
    customer = WahaCustomer(system)
    customer.say_spec({"type": "text", "text": "Which size?\noptions: Small; Medium; Large"})
    (reply,) = customer.replies(1)
    assert "1. Small\n2. Medium\n3. Large" in reply["text"]
    assert reply["text"].endswith("Reply with the number or the name of your choice.")
    stored = system.wait_for(
        lambda: [m for m in customer.messages() if m["direction"] == "outbound"], what="the stored reply"
    )
    assert stored[0]["type"] == "interactive"  # the dashboard shows the choices as offered
