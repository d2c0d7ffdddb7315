"""The webhook function under functions-framework, on the Firestore and Pub/Sub emulators."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.cloud import MEDIA_TOPIC, REPLY_TOPIC, VERIFY_TOKEN
from tests.support.payloads import FIXTURE_CONVERSATION, load
from tests.support.webhook import receive_jobs

CONV = FIXTURE_CONVERSATION


def messages(db, conv: str = CONV) -> dict[str, dict]:
    ref = db.collection("conversations").document(conv).collection("messages")
    return {d.id: d.to_dict() for d in ref.stream()}


def conversation(db, conv: str = CONV) -> dict:
    return db.collection("conversations").document(conv).get().to_dict()


def quarantined(db) -> list[dict]:
    return [d.to_dict() for d in db.collection("quarantine").stream()]


# -- the verification handshake ---------------------------------------------------------------


def test_handshake_echoes_the_challenge_as_plain_text(webhook) -> None:
    response = webhook.get(
        **{"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_handshake_on_the_root_path_too(webhook) -> None:
    response = webhook.get(
        "/", **{"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    )
    assert (response.status_code, response.text) == (200, "42")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {},
    ],
)
def test_handshake_with_a_wrong_token_or_mode_is_refused(webhook, params) -> None:
    assert webhook.get(**params).status_code == 403


# -- signatures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signature", "status"),
    [
        (None, 401),
        ("sha256=" + "0" * 64, 403),
        ("sha1=abc", 403),
        ("", 401),
    ],
)
def test_unsigned_or_wrongly_signed_delivery_is_refused_and_nothing_stored(
    webhook, firestore_db, topics, signature, status
) -> None:
    assert webhook.post(load("text"), signature=signature).status_code == status
    assert messages(firestore_db) == {}
    assert quarantined(firestore_db) == []
    assert topics.pull(REPLY_TOPIC, wait=0.5) == []


def test_signature_is_checked_over_the_raw_bytes_not_reparsed_json(webhook, firestore_db) -> None:
    raw = load("text")  # Meta escapes non-ASCII as \uXXXX; re-dumping would change the bytes
    assert b"\\u00bf" in raw
    assert webhook.post(raw).status_code == 200
    assert messages(firestore_db)["wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="][
        "text"
    ].startswith("Hello! ¿")


def test_a_body_over_the_size_limit_gets_413_before_parsing(webhook, firestore_db) -> None:
    huge = b'{"object":"whatsapp_business_account","entry":[],"pad":"' + b"x" * (4 * 1024 * 1024) + b'"}'
    assert webhook.post(huge).status_code == 413
    assert quarantined(firestore_db) == []


def test_unknown_paths_are_not_found(webhook) -> None:
    assert webhook.post(load("text"), path="/admin").status_code == 404


# -- storing messages and publishing jobs --------------------------------------------------------


def test_a_text_message_is_stored_with_its_conversation_and_one_reply_job(
    webhook, firestore_db, topics
) -> None:
    assert webhook.post(load("text")).status_code == 200
    (wamid, doc) = next(iter(messages(firestore_db).items()))
    assert doc["direction"] == "inbound"
    assert (doc["type"], doc["status"], doc["sender"]) == ("text", "ready", "16505551234")
    assert doc["wamid"] == wamid
    assert doc["job"]["state"] == "pending"  # out, and owed until its consumer says it arrived
    (job,) = receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)
    assert (job["conversation_id"], job["message_id"]) == (CONV, wamid)
    assert messages(firestore_db)[wamid]["job"]["state"] == "published"
    conv = conversation(firestore_db)
    assert (conv["display_name"], conv["wa_id"], conv["phone_number_id"]) == (
        "Kerry Fisher",
        "16505551234",
        "106540352242922",
    )
    assert conv["message_count"] == 1
    assert conv["created_at"] is not None
    assert conv["last_message_preview"].startswith("Hello!")
    assert topics.pull(MEDIA_TOPIC, wait=0.3) == []


@pytest.mark.parametrize("name", ["image", "audio_voice", "video", "document", "sticker"])
def test_media_messages_go_to_the_media_topic(webhook, firestore_db, topics, name) -> None:
    assert webhook.post(load(name)).status_code == 200
    doc = next(iter(messages(firestore_db).values()))
    assert doc["status"] == "received"
    assert doc["media"]["status"] == "pending"
    assert len(topics.pull(MEDIA_TOPIC, expect=1)) == 1
    assert topics.pull(REPLY_TOPIC, wait=0.3) == []


@pytest.mark.parametrize(
    "name",
    ["location", "contacts", "interactive_button_reply", "interactive_list_reply", "button", "text_reply"],
)
def test_other_replyable_messages_go_to_the_reply_topic(webhook, topics, name) -> None:
    assert webhook.post(load(name)).status_code == 200
    assert len(topics.pull(REPLY_TOPIC, expect=1)) == 1
    assert topics.pull(MEDIA_TOPIC, wait=0.3) == []


@pytest.mark.parametrize("name", ["reaction", "reaction_removed", "unsupported", "system", "unknown_type"])
def test_reactions_unsupported_and_system_messages_are_recorded_by_a_job_that_answers_nothing(
    webhook, firestore_db, topics, name
) -> None:
    assert webhook.post(load(name)).status_code == 200
    conv = "106540352242922_16505551234"
    doc = next(iter(messages(firestore_db, conv).values()))
    assert doc["status"] == "ignored"
    # Its consumer finds the user's conversation (their ids may have moved it) and lists it there.
    (job,) = receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)
    assert job["reason"] == "record"
    summary = conversation(firestore_db, conv)
    assert summary["message_count"] == 1 and summary["created_at"] is not None
    assert summary["last_inbound_at"] == doc["received_at"]
    assert topics.pull(MEDIA_TOPIC, wait=0.1) == []


def test_type_specific_fields_keep_meta_key_names(webhook, firestore_db) -> None:
    for i, name in enumerate(("location", "reaction_removed", "interactive_list_reply", "button")):
        body = json.loads(load(name))
        body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.TYPE{i}"
        assert webhook.post(json.dumps(body).encode()).status_code == 200
    docs = [d for d in messages(firestore_db).values()]
    by_type = {d["type"]: d for d in docs}
    assert by_type["location"]["location"]["name"] == "Philz Coffee"
    assert by_type["reaction"]["reaction"] == {"message_id": "wamid.OUTBOUND1"}
    assert by_type["interactive"]["interactive"]["title"] == "Medium"
    assert by_type["button"]["button"]["payload"] == "STOP_PROMOS"


def test_a_batch_stores_every_message_and_publishes_each_job(webhook, firestore_db, topics) -> None:
    assert webhook.post(load("batch")).status_code == 200
    assert set(messages(firestore_db)) == {"wamid.BATCH1", "wamid.BATCH2", "wamid.BATCH3"}
    assert sorted(j["message_id"] for j in receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=2)) == [
        "wamid.BATCH1",
        "wamid.BATCH2",
    ]
    assert [j["message_id"] for j in receive_jobs(firestore_db, topics, MEDIA_TOPIC, expect=1)] == [
        "wamid.BATCH3"
    ]
    assert conversation(firestore_db)["message_count"] == 3


def test_a_repeated_delivery_stores_and_publishes_nothing_new(webhook, firestore_db, topics) -> None:
    body = load("text")
    assert webhook.post(body).status_code == 200
    assert len(receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)) == 1
    first = messages(firestore_db)
    assert webhook.post(body).status_code == 200
    assert messages(firestore_db) == first
    assert conversation(firestore_db)["message_count"] == 1
    assert topics.pull(REPLY_TOPIC, wait=1) == []


def test_a_repeat_before_the_job_arrived_answers_503_and_publishes_nothing(
    webhook, firestore_db, topics
) -> None:
    # Nobody can tell yet whether the first delivery published the job or died just before:
    # only its consumer's arrival says so. Meta's next try finds it recorded.
    body = load("text")
    assert webhook.post(body).status_code == 200
    assert webhook.post(body).status_code == 503
    assert len(receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)) == 1
    assert webhook.post(body).status_code == 200
    assert topics.pull(REPLY_TOPIC, wait=1) == []
    assert conversation(firestore_db)["message_count"] == 1


def test_the_same_delivery_posted_ten_times_at_once_leaves_one_message_and_one_job(
    webhook, firestore_db, topics
) -> None:
    body = load("text")
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: webhook.post(body).status_code, range(10)))
    assert set(statuses) <= {200, 503}
    assert statuses.count(200) >= 1
    assert len(messages(firestore_db)) == 1
    assert len(receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1, wait=3)) == 1
    assert conversation(firestore_db)["message_count"] == 1


def test_a_body_without_contacts_is_fine(webhook, firestore_db, topics) -> None:
    body = json.loads(load("text"))
    del body["entry"][0]["changes"][0]["value"]["contacts"]
    assert webhook.post(json.dumps(body).encode()).status_code == 200
    receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)
    assert "display_name" not in conversation(firestore_db)


# -- statuses ------------------------------------------------------------------------------------


def seed_outbound(db, wamid: str, status: str = "accepted") -> None:
    db.collection("conversations").document(CONV).collection("messages").document(wamid).set(
        {"wamid": wamid, "direction": "outbound", "type": "text", "text": "hi", "status": status}
    )


def test_statuses_out_of_order_never_move_a_message_backward(webhook, firestore_db) -> None:
    seed_outbound(firestore_db, "wamid.OUT200")
    assert webhook.post(load("statuses_out_of_order")).status_code == 200
    doc = messages(firestore_db)["wamid.OUT200"]
    assert doc["status"] == "read"
    assert set(doc["status_times"]) == {"read"}


def test_statuses_move_forward_one_by_one(webhook, firestore_db) -> None:
    seed_outbound(firestore_db, "wamid.OUT100")
    assert webhook.post(load("message_and_statuses")).status_code == 200
    assert messages(firestore_db)["wamid.OUT100"]["status"] == "delivered"


def test_a_failed_status_keeps_its_error_and_flags_the_conversation(webhook, firestore_db) -> None:
    seed_outbound(firestore_db, "wamid.OUT300", "sent")
    assert webhook.post(load("status_failed")).status_code == 200
    doc = messages(firestore_db)["wamid.OUT300"]
    assert doc["status"] == "failed"
    assert (doc["error"]["code"], doc["error"]["title"]) == (131047, "Re-engagement message")
    assert conversation(firestore_db)["needs_attention"] is True


def test_a_status_for_an_unknown_message_does_not_fail_the_request(webhook, firestore_db) -> None:
    assert webhook.post(load("status_failed")).status_code == 200
    assert "wamid.OUT300" not in messages(firestore_db)
    parked = firestore_db.collection("orphan_statuses").document("wamid.OUT300").get()
    assert parked.exists  # applied once the message is recorded


# -- errors, other fields and bodies we cannot understand ----------------------------------------


def test_value_errors_are_recorded(webhook, firestore_db) -> None:
    assert webhook.post(load("value_errors")).status_code == 200
    (error,) = [d.to_dict() for d in firestore_db.collection("webhook_errors").stream()]
    assert (error["code"], error["title"]) == (130429, "Rate limit hit")


def test_a_non_message_field_is_acknowledged_and_ignored(webhook, firestore_db, topics) -> None:
    assert webhook.post(load("non_message_field")).status_code == 200
    assert list(firestore_db.collection("conversations").stream()) == []
    assert quarantined(firestore_db) == []


@pytest.mark.parametrize("name", ["malformed_not_json.txt", "malformed_entry_not_list"])
def test_an_unusable_body_is_quarantined_whole_and_answered_200(webhook, firestore_db, name) -> None:
    body = load(name)
    assert webhook.post(body).status_code == 200
    (entry,) = quarantined(firestore_db)
    assert entry["body"] == body.decode()
    assert entry["reason"]
    assert list(firestore_db.collection("conversations").stream()) == []
    assert webhook.post(body).status_code == 200
    assert len(quarantined(firestore_db)) == 1  # a redelivery adds no second entry


def test_in_a_batch_valid_messages_are_stored_and_only_the_bad_one_quarantined(
    webhook, firestore_db, topics
) -> None:
    assert webhook.post(load("malformed_batch_one_bad")).status_code == 200
    assert set(messages(firestore_db)) == {"wamid.GOOD1", "wamid.GOOD2"}
    (entry,) = quarantined(firestore_db)
    assert entry["path"] == "entry[0].changes[0].value.messages[1].id"
    assert json.loads(entry["part"])["text"]["body"] == "missing id"
    assert len(topics.pull(REPLY_TOPIC, expect=2)) == 2


def test_wrong_types_store_no_partial_message(webhook, firestore_db) -> None:
    assert webhook.post(load("malformed_wrong_types")).status_code == 200
    assert messages(firestore_db) == {}
    assert "expected a number" in quarantined(firestore_db)[0]["reason"]


def test_a_conversation_is_counted_once_however_many_messages_and_redeliveries(
    webhook, firestore_db, topics
) -> None:
    from shared.store import stats

    assert webhook.post(load("text")).status_code == 200
    receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)
    assert webhook.post(load("text")).status_code == 200  # a redelivery
    assert webhook.post(load("batch")).status_code == 200  # more messages from the same customer
    receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=2)
    receive_jobs(firestore_db, topics, MEDIA_TOPIC, expect=1)
    lifetime = stats.read_lifetime(firestore_db)
    assert lifetime["conversations"] == 1
    (today,) = stats.read_daily_stats(firestore_db, 1)
    assert today.messages_in == 4
    assert today.messages_in_by_type == {"text": 3, "image": 1}
