"""Coexistence through the webhook: the owner's messages from the WhatsApp Business app (echoes),
a history sync and the app's contact names, each stored once, none answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.support.cloud import REPLY_TOPIC
from tests.support.payloads import FIXTURE_CONVERSATION, load
from tests.support.webhook import receive_jobs

NUMBER = "106540352242922"


def messages(db, conv: str = FIXTURE_CONVERSATION) -> dict[str, dict]:
    ref = db.collection("conversations").document(conv).collection("messages")
    return {d.id: d.to_dict() for d in ref.stream()}


def conversation(db, conv: str = FIXTURE_CONVERSATION) -> dict:
    return db.collection("conversations").document(conv).get().to_dict() or {}


def test_an_echo_is_the_business_apps_message_and_pauses_the_assistant(webhook, firestore_db, topics) -> None:
    # The customer asked first; the owner answers from the app.
    assert webhook.post(load("text")).status_code == 200
    receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)
    before = datetime.now(UTC)
    assert webhook.post(load("echo_text")).status_code == 200

    stored = messages(firestore_db)
    (echo,) = [m for m in stored.values() if m["direction"] == "outbound"]
    assert (echo["sent_by"], echo["text"]) == (
        "business_app",
        "Hi Maya, it's Sam from the shop: your order is ready.",
    )
    (question,) = [m for m in stored.values() if m["direction"] == "inbound"]
    assert (question["status"], question["answered_by"]) == ("answered", "business_app")  # not answered again
    summary = conversation(firestore_db)
    assert summary["human_reply_by"] == "business_app"
    pause = summary["human_reply_until"] - before
    assert timedelta(minutes=59) < pause <= timedelta(minutes=60, seconds=5)  # HUMAN_REPLY_PAUSE_MINUTES
    assert summary["resume_at"] == summary["human_reply_until"]
    assert topics.pull(REPLY_TOPIC, wait=0.3) == []  # nothing to answer, nothing published

    # Meta delivers it again: nothing is stored twice, the pause is not moved.
    assert webhook.post(load("echo_text")).status_code == 200
    assert len(messages(firestore_db)) == 2
    assert conversation(firestore_db)["human_reply_until"] == summary["human_reply_until"]


def test_a_history_sync_stores_past_messages_once_in_order_and_answers_none(
    webhook, firestore_db, topics
) -> None:
    assert webhook.post(load("history_batch")).status_code == 200
    first = messages(firestore_db)
    assert [m["text"] for m in sorted(first.values(), key=lambda m: m["created_at"])] == [
        "Here's the info you requested!",
        "",
        "Thanks!",
    ]
    by_id = {m["wamid"]: m for m in first.values()}
    assert by_id["wamid.HISTORY-BIZ-1"]["sent_by"] == "business_app"
    assert by_id["wamid.HISTORY-BIZ-1"]["status"] == "read"
    assert (
        by_id["wamid.HISTORY-USER-1"]["status"] == "history" and by_id["wamid.HISTORY-USER-1"]["job"] is None
    )
    assert by_id["wamid.HISTORY-USER-1"]["created_at"] == datetime.fromtimestamp(1739230990, UTC)
    assert list(messages(firestore_db, f"{NUMBER}_12125557890")) == ["wamid.HISTORY-BIZ-3"]
    assert topics.pull(REPLY_TOPIC, wait=0.3) == []

    assert webhook.post(load("history_batch")).status_code == 200  # a repeat stores nothing again
    assert messages(firestore_db) == first


def test_history_media_sent_apart_is_stored_as_past_and_not_answered(webhook, firestore_db, topics) -> None:
    body = json.loads(load("image"))
    body["entry"][0]["changes"][0]["field"] = "history"
    assert webhook.post(json.dumps(body).encode()).status_code == 200
    (stored,) = messages(firestore_db).values()
    assert (stored["type"], stored["status"]) == ("image", "history")
    assert topics.pull(REPLY_TOPIC, wait=0.3) == []


def test_contact_names_from_the_app_name_their_conversations(webhook, firestore_db, topics) -> None:
    assert webhook.post(load("text")).status_code == 200
    receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)
    assert webhook.post(load("app_state_sync")).status_code == 200
    summary = conversation(firestore_db)
    assert (summary["display_name"], summary["display_name_lower"], summary["contact_name"]) == (
        "Maya Baker",
        "maya baker",
        "Maya Baker",
    )
    assert not firestore_db.collection("conversations").document(f"{NUMBER}_12125557890").get().exists
    # The customer's profile name does not take the business's name for them away.
    body = json.loads(load("text"))
    body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.later"
    assert webhook.post(json.dumps(body).encode()).status_code == 200
    receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)
    assert conversation(firestore_db)["display_name"] == "Maya Baker"
