"""What a simulated user writes reaches the webhook in Meta's envelope, signed."""

from __future__ import annotations

import base64
import json

import requests

from tests.support.simulator import PHONE_ID, USER, expected_signature


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
    (contact,) = value["contacts"]
    assert contact == {"profile": {"name": "Alice"}, "wa_id": USER, "user_id": contact["user_id"]}
    assert contact["user_id"].startswith("US.")  # a BSUID on every webhook, as since April 2026
    message = value["messages"][0]
    assert message["id"] == result["wamid"]
    assert message["from"] == USER and message["from_user_id"] == contact["user_id"]
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
