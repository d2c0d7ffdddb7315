"""The WhatsApp Cloud API simulator speaks Meta's wire formats: Graph calls in, signed webhooks out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time

import pytest
import requests
from flask import Flask, request

from local.servers import start_server
from local.whatsapp_simulator import graph_api_url, start_simulator

SECRET = "sim-test-secret"
TOKEN = "sim-test-token"
PHONE_ID = "100000000000001"
USER = "15551234567"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Receiver:
    """A tiny webhook endpoint: records raw bodies and headers, answers the queued statuses (then 200)."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.lock = threading.Lock()
        app = Flask("receiver")
        app.add_url_rule("/webhook", "webhook", self.handle, methods=["POST"])
        self.server = start_server(app, self)

    def handle(self):
        with self.lock:
            self.calls.append((dict(request.headers), request.get_data()))
            status = self.answers.pop(0) if self.answers else 200
        return ("ok", status)

    @property
    def url(self) -> str:
        return f"{self.server.url}/webhook"

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(body) for _, body in self.calls]

    def statuses(self) -> list[dict]:
        found = []
        for body in self.bodies():
            for entry in body["entry"]:
                for change in entry["changes"]:
                    found.extend(change["value"].get("statuses", []))
        return found


def wait_until(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def final_statuses(receiver) -> dict[str, dict]:
    return {s["id"]: s for s in receiver.statuses() if s["status"] in {"read", "failed"}}


def expected_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def sim(receiver):
    running = start_simulator(
        webhook_url=receiver.url,
        app_secret=SECRET,
        access_token=TOKEN,
        status_delay_seconds=0.02,
        webhook_retry_delays=(0.0, 0.05),
    )
    yield running
    running.stop()


def send_text(sim, body: str = "Hello from the business", **extra) -> requests.Response:
    payload = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": f"+{USER}",
        "type": "text",
        "text": {"body": body, "preview_url": False},
        **extra,
    }
    return requests.post(f"{graph_api_url(sim)}/{PHONE_ID}/messages", json=payload, headers=AUTH, timeout=5)


def upload(sim, data: bytes, mime: str, filename: str = "file.bin") -> dict:
    response = requests.post(
        f"{sim.url}/_sim/media", files={"file": (filename, data, mime)}, data={"mime_type": mime}, timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_graph_call_without_the_right_token_is_rejected_with_code_190(sim, headers):
    response = requests.post(
        f"{graph_api_url(sim)}/{PHONE_ID}/messages",
        json={"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {"body": "hi"}},
        headers=headers,
        timeout=5,
    )

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 190
    assert error["type"] == "OAuthException"
    assert requests.get(f"{sim.url}/_sim/outbox", timeout=5).json()["messages"] == []


def test_send_returns_a_wamid_and_lands_in_the_outbox(sim):
    response = send_text(sim, "Quoting you", context={"message_id": "wamid.earlier"})

    assert response.status_code == 200
    body = response.json()
    wamid = body["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": f"+{USER}", "wa_id": USER}]
    outbox = requests.get(f"{sim.url}/_sim/outbox", timeout=5).json()["messages"]
    assert [(m["wamid"], m["to"], m["text"], m["reply_to"]) for m in outbox] == [
        (wamid, f"+{USER}", "Quoting you", "wamid.earlier")
    ]
    assert send_text(sim).json()["messages"][0]["id"] != wamid


def test_any_graph_version_is_accepted(sim):
    response = requests.post(
        f"{sim.url}/v19.0/{PHONE_ID}/messages",
        json={"messaging_product": "whatsapp", "to": USER, "text": {"body": "hi"}},
        headers=AUTH,
        timeout=5,
    )

    assert response.status_code == 200


def test_text_over_4096_characters_is_refused_like_meta(sim):
    response = send_text(sim, "x" * 4097)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert "4096" in error["error_data"]["details"]
    assert send_text(sim, "y" * 4096).status_code == 200


def test_status_callbacks_arrive_signed_in_order(sim, receiver):
    wamid = send_text(sim).json()["messages"][0]["id"]

    statuses = wait_until(lambda: len(receiver.statuses()) >= 3 and receiver.statuses())

    assert [(s["id"], s["status"]) for s in statuses] == [
        (wamid, "sent"),
        (wamid, "delivered"),
        (wamid, "read"),
    ]
    assert all(s["recipient_id"] == USER and isinstance(s["timestamp"], str) for s in statuses)
    for headers, raw in receiver.calls:
        assert headers["X-Hub-Signature-256"] == expected_signature(raw)
    value = receiver.bodies()[0]["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == PHONE_ID
    assert "messages" not in value
    outbox = requests.get(f"{sim.url}/_sim/outbox", timeout=5).json()["messages"]
    assert outbox[0]["status"] == "read"


def test_auto_read_can_be_switched_off(sim, receiver):
    requests.post(f"{sim.url}/_sim/config", json={"auto_read": False}, timeout=5)
    send_text(sim)

    wait_until(lambda: len(receiver.statuses()) >= 2)
    time.sleep(0.1)

    assert [s["status"] for s in receiver.statuses()] == ["sent", "delivered"]


def test_inbound_text_is_delivered_signed_in_metas_envelope(sim, receiver):
    result = requests.post(
        f"{sim.url}/_sim/inbound",
        json={
            "from": USER,
            "name": "Alice",
            "type": "text",
            "text": "مرحبا 👋",
            "context": {"id": "wamid.prev"},
        },
        timeout=5,
    ).json()

    assert result["webhook_status"] == 200
    headers, raw = receiver.calls[0]
    assert headers["X-Hub-Signature-256"] == expected_signature(raw)
    assert headers["Content-Type"] == "application/json"
    assert b"\\u0645" in raw  # non-ASCII escaped like Meta: re-serialising the JSON would not match
    envelope = json.loads(raw)
    assert envelope == result["body"]
    assert envelope["object"] == "whatsapp_business_account"
    change = envelope["entry"][0]["changes"][0]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"]["phone_number_id"] == PHONE_ID
    assert value["contacts"] == [{"profile": {"name": "Alice"}, "wa_id": USER}]
    message = value["messages"][0]
    assert message["id"] == result["wamid"]
    assert message["from"] == USER
    assert message["type"] == "text"
    assert message["text"] == {"body": "مرحبا 👋"}
    assert message["timestamp"].isdigit()
    assert message["context"]["id"] == "wamid.prev"


def test_batch_puts_several_messages_in_one_envelope(sim, receiver):
    result = requests.post(
        f"{sim.url}/_sim/inbound",
        json={
            "batch": [
                {"from": USER, "text": "one"},
                {"from": USER, "text": "two"},
                {
                    "from": "15557654321",
                    "name": "Bob",
                    "type": "reaction",
                    "reaction": {"message_id": "w", "emoji": "👍"},
                },
            ]
        },
        timeout=5,
    ).json()

    assert len(receiver.calls) == 1
    value = receiver.bodies()[0]["entry"][0]["changes"][0]["value"]
    assert [m["id"] for m in value["messages"]] == result["wamids"]
    assert [c["wa_id"] for c in value["contacts"]] == [USER, "15557654321"]


def test_webhook_rejection_is_retried_until_accepted(sim, receiver):
    receiver.answers = [500, 503]

    result = requests.post(
        f"{sim.url}/_sim/inbound", json={"from": USER, "text": "retry me"}, timeout=5
    ).json()

    assert result["webhook_status"] == 500
    wait_until(lambda: len(receiver.calls) == 3)
    assert len({body for _, body in receiver.calls}) == 1  # the same bytes every time
    deliveries = requests.get(f"{sim.url}/_sim/deliveries", timeout=5).json()["deliveries"]
    assert [(d["attempt"], d["status"]) for d in deliveries] == [(1, 500), (2, 503), (3, 200)]


def test_inbound_image_then_two_step_download_with_the_token(sim, receiver):
    jpeg = b"\xff\xd8\xff\xe0 pretend jpeg"
    media = upload(sim, jpeg, "image/jpeg", "cat.jpg")
    requests.post(
        f"{sim.url}/_sim/inbound",
        json={"from": USER, "type": "image", "media_id": media["id"], "caption": "my cat"},
        timeout=5,
    )
    image = receiver.bodies()[0]["entry"][0]["changes"][0]["value"]["messages"][0]["image"]
    assert image == {
        "caption": "my cat",
        "mime_type": "image/jpeg",
        "sha256": base64.b64encode(hashlib.sha256(jpeg).digest()).decode(),
        "id": media["id"],
    }

    assert requests.get(f"{graph_api_url(sim)}/{image['id']}", timeout=5).status_code == 401
    meta = requests.get(f"{graph_api_url(sim)}/{image['id']}", headers=AUTH, timeout=5).json()
    assert meta["messaging_product"] == "whatsapp"
    assert meta["mime_type"] == "image/jpeg"
    assert meta["file_size"] == len(jpeg)
    assert meta["id"] == image["id"]

    assert requests.get(meta["url"], timeout=5).status_code == 401
    download = requests.get(meta["url"], headers=AUTH, timeout=5)
    assert download.status_code == 200
    assert download.content == jpeg
    assert download.headers["Content-Type"] == "image/jpeg"


def test_media_url_expires_and_a_fresh_one_works(receiver):
    running = start_simulator(webhook_url=receiver.url, access_token=TOKEN, media_url_ttl_seconds=0.2)
    try:
        media = upload(running, b"OggS voice", "audio/ogg")
        old_url = requests.get(f"{graph_api_url(running)}/{media['id']}", headers=AUTH, timeout=5).json()[
            "url"
        ]
        time.sleep(0.3)

        assert requests.get(old_url, headers=AUTH, timeout=5).status_code == 404
        new_url = requests.get(f"{graph_api_url(running)}/{media['id']}", headers=AUTH, timeout=5).json()[
            "url"
        ]
        assert requests.get(new_url, headers=AUTH, timeout=5).content == b"OggS voice"
    finally:
        running.stop()


def test_voice_note_is_announced_as_ogg_opus(sim, receiver):
    voice = base64.b64encode(b"OggS fake opus").decode()

    requests.post(
        f"{sim.url}/_sim/inbound",
        json={"from": USER, "type": "voice", "data_base64": voice, "mime_type": "audio/ogg"},
        timeout=5,
    )

    audio = receiver.bodies()[0]["entry"][0]["changes"][0]["value"]["messages"][0]["audio"]
    assert audio["mime_type"] == "audio/ogg; codecs=opus"
    assert audio["voice"] is True


def test_fault_switch_answers_131047_with_metas_error_body_then_recovers(sim):
    requests.post(f"{sim.url}/_sim/faults", json={"target": "send", "code": 131047, "count": 1}, timeout=5)

    failed = send_text(sim)
    recovered = send_text(sim)

    assert failed.status_code == 400
    error = failed.json()["error"]
    assert error["code"] == 131047
    assert error["type"] == "OAuthException"
    assert error["message"].startswith("(#131047)")
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert "24 hours" in error["error_data"]["details"]
    assert "fbtrace_id" in error
    assert recovered.status_code == 200
    assert len(requests.get(f"{sim.url}/_sim/outbox", timeout=5).json()["messages"]) == 1


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"code": 130429}, 400, 130429),
        ({"code": 131056, "http_status": 429}, 429, 131056),
        ({"http_status": 500}, 500, 131000),
        ({"code": 190}, 401, 190),
    ],
)
def test_send_fault_switches_pick_metas_status_and_code(sim, fault, status, code):
    requests.post(f"{sim.url}/_sim/faults", json={"target": "send", **fault}, timeout=5)

    response = send_text(sim)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_hanging_send_times_out_the_client(sim):
    requests.post(f"{sim.url}/_sim/faults", json={"target": "send", "hang_seconds": 1.0}, timeout=5)

    with pytest.raises(requests.Timeout):
        requests.post(
            f"{graph_api_url(sim)}/{PHONE_ID}/messages",
            json={"messaging_product": "whatsapp", "to": USER, "text": {"body": "slow"}},
            headers=AUTH,
            timeout=0.3,
        )


def test_media_download_fault_answers_500_then_recovers(sim):
    media = upload(sim, b"%PDF-1.4", "application/pdf", "doc.pdf")
    requests.post(f"{sim.url}/_sim/faults", json={"target": "media_download", "http_status": 500}, timeout=5)
    url = requests.get(f"{graph_api_url(sim)}/{media['id']}", headers=AUTH, timeout=5).json()["url"]

    assert requests.get(url, headers=AUTH, timeout=5).status_code == 500
    assert requests.get(url, headers=AUTH, timeout=5).content == b"%PDF-1.4"


def test_mark_read_and_typing_are_recorded_and_shown_in_the_conversation(sim):
    wamid = requests.post(f"{sim.url}/_sim/inbound", json={"from": USER, "text": "hi"}, timeout=5).json()[
        "wamid"
    ]
    url = f"{graph_api_url(sim)}/{PHONE_ID}/messages"
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}

    assert requests.post(url, json=read, headers=AUTH, timeout=5).json() == {"success": True}
    typing = {**read, "typing_indicator": {"type": "text"}}
    assert requests.post(url, json=typing, headers=AUTH, timeout=5).json() == {"success": True}

    kinds = [e["kind"] for e in requests.get(f"{sim.url}/_sim/events", timeout=5).json()["events"]]
    assert kinds == ["mark_read", "typing"]
    conversation = requests.get(f"{sim.url}/_sim/conversation", params={"wa_id": USER}, timeout=5).json()
    assert conversation["typing"] is True
    assert conversation["messages"][0]["status"] == "read"


def test_raw_delivery_can_carry_a_bad_signature(sim, receiver):
    result = requests.post(
        f"{sim.url}/_sim/deliver-raw", json={"body": "{not json", "signature": "sha256=deadbeef"}, timeout=5
    ).json()

    assert result["webhook_status"] == 200
    headers, raw = receiver.calls[0]
    assert raw == b"{not json"
    assert headers["X-Hub-Signature-256"] == "sha256=deadbeef"


def test_chat_page_is_served_with_its_assets(sim):
    page = requests.get(f"{sim.url}/", timeout=5)

    assert page.status_code == 200
    assert 'dir="auto"' in page.text
    assert requests.get(f"{sim.url}/_sim/static/chat.js", timeout=5).status_code == 200


def test_delivery_fault_accepts_the_send_then_reports_a_failed_status(sim, receiver):
    requests.post(f"{sim.url}/_sim/faults", json={"target": "delivery", "code": 131026}, timeout=5)

    response = send_text(sim)

    assert response.status_code == 200
    failed = wait_until(lambda: receiver.statuses())
    assert failed[0]["status"] == "failed"
    assert failed[0]["id"] == response.json()["messages"][0]["id"]
    assert failed[0]["errors"][0]["code"] == 131026
    assert failed[0]["errors"][0]["title"] == "Message undeliverable"


def test_business_uploads_media_and_sends_it_by_id(sim, receiver):
    uploaded = requests.post(
        f"{graph_api_url(sim)}/{PHONE_ID}/media",
        files={"file": ("chart.png", b"\x89PNG fake", "image/png")},
        data={"messaging_product": "whatsapp", "type": "image/png"},
        headers=AUTH,
        timeout=5,
    )
    media_id = uploaded.json()["id"]
    image = {"messaging_product": "whatsapp", "to": USER, "type": "image", "image": {"id": media_id}}
    unknown = {**image, "image": {"id": "999"}}

    sent = requests.post(f"{graph_api_url(sim)}/{PHONE_ID}/messages", json=image, headers=AUTH, timeout=5)
    bad = requests.post(f"{graph_api_url(sim)}/{PHONE_ID}/messages", json=unknown, headers=AUTH, timeout=5)

    assert sent.status_code == bad.status_code == 200  # Meta checks the media id only when delivering
    final = wait_until(lambda: len(final_statuses(receiver)) == 2 and final_statuses(receiver))
    assert final[sent.json()["messages"][0]["id"]]["status"] == "read"
    assert final[bad.json()["messages"][0]["id"]]["errors"][0]["code"] == 131053


def test_redelivery_posts_the_identical_bytes_again(sim, receiver):
    wamid = requests.post(f"{sim.url}/_sim/inbound", json={"text": "once"}, timeout=5).json()["wamid"]

    again = requests.post(f"{sim.url}/_sim/redeliver", json={"wamid": wamid}, timeout=5).json()

    assert again["webhook_status"] == 200
    assert receiver.calls[0][1] == receiver.calls[1][1]


def test_outbox_long_poll_returns_once_the_reply_is_sent(sim):
    threading.Timer(0.2, send_text, args=(sim, "late reply")).start()

    started = time.monotonic()
    messages = requests.get(
        f"{sim.url}/_sim/outbox", params={"wait_count": 1, "timeout": 5}, timeout=10
    ).json()

    assert [m["text"] for m in messages["messages"]] == ["late reply"]
    assert time.monotonic() - started < 3
