"""`POST /webhook/waha`: WAHA's signed events stored like the Cloud API's, under the WAHA number."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shared.store.outbound import add_outbound
from shared.store.schema import SentBy
from shared.whatsapp.waha.signature import sign
from tests.support.cloud import MEDIA_TOPIC, REPLY_TOPIC, ROOT, base_env
from tests.support.payloads import WAHA_CONVERSATION, load_waha
from tests.support.webhook import WebhookClient, receive_jobs
from tests.webhook.conftest import WAHA_ENV, WAHA_KEY

CONV = WAHA_CONVERSATION
OUR_REPLY = "true_15551234567@c.us_3EB0C0FFEE0000000002"


def messages(db, conv: str = CONV) -> dict[str, dict]:
    ref = db.collection("conversations").document(conv).collection("messages")
    return {d.id: d.to_dict() for d in ref.stream()}


def conversation(db, conv: str = CONV) -> dict:
    return db.collection("conversations").document(conv).get().to_dict() or {}


def quarantined(db) -> list[dict]:
    return [d.to_dict() for d in db.collection("quarantine").stream()]


# -- signatures -----------------------------------------------------------------------------------


def test_a_signed_message_is_stored_with_one_reply_job(waha_webhook, firestore_db, topics) -> None:
    assert waha_webhook.post_waha(load_waha("message_text"), key=WAHA_KEY).status_code == 200
    (wamid, doc) = next(iter(messages(firestore_db).items()))
    assert wamid == "false_15551234567@c.us_3EB0A1B2C3D4E5F60718"
    assert (doc["direction"], doc["type"], doc["status"], doc["sender"]) == (
        "inbound",
        "text",
        "ready",
        "15551234567",
    )
    (job,) = receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)
    assert (job["conversation_id"], job["message_id"]) == (CONV, wamid)
    conv = conversation(firestore_db)
    assert (conv["phone_number_id"], conv["wa_id"], conv["display_name"]) == (
        "waha-default",
        "15551234567",
        "Kerry Fisher",
    )


@pytest.mark.parametrize(
    ("hmac", "status"),
    [(None, 401), ("", 401), ("0" * 128, 403), ("sha512=" + "0" * 128, 403)],
)
def test_a_missing_or_wrong_signature_is_refused_and_nothing_stored(
    waha_webhook, firestore_db, topics, hmac, status
) -> None:
    assert waha_webhook.post_waha(load_waha("message_text"), hmac=hmac).status_code == status
    assert messages(firestore_db) == {} and quarantined(firestore_db) == []
    assert topics.pull(REPLY_TOPIC, wait=0.5) == []


def test_a_body_signed_with_another_key_is_refused(waha_webhook, firestore_db) -> None:
    assert waha_webhook.post_waha(load_waha("message_text"), key="another-key").status_code == 403
    assert messages(firestore_db) == {}


def test_the_signature_covers_the_raw_bytes(waha_webhook, firestore_db) -> None:
    body = load_waha("message_text")
    same_json_other_bytes = json.dumps(json.loads(body)).encode()  # non-ASCII escaped, spaces added
    assert waha_webhook.post_waha(body, hmac=sign(WAHA_KEY, same_json_other_bytes)).status_code == 403
    assert waha_webhook.post_waha(body, hmac=sign(WAHA_KEY, body).upper()).status_code == 200


def test_a_body_over_the_size_limit_is_refused_before_parsing(waha_webhook, firestore_db) -> None:
    huge = b'{"event":"message","session":"default","pad":"' + b"x" * (4 * 1024 * 1024) + b'"}'
    assert waha_webhook.post_waha(huge, key=WAHA_KEY).status_code == 413
    assert quarantined(firestore_db) == []


def test_unsigned_mode_accepts_unsigned_bodies(unsigned_waha_webhook_process, firestore_db, topics) -> None:
    client = WebhookClient(unsigned_waha_webhook_process.url)
    assert client.post_waha(load_waha("message_text")).status_code == 200
    assert len(messages(firestore_db)) == 1
    assert "accepted unsigned" in unsigned_waha_webhook_process.log_path.read_text()


def test_without_a_waha_session_the_path_is_not_found(webhook) -> None:
    assert webhook.post_waha(load_waha("message_text"), key=WAHA_KEY).status_code == 404


def start_webhook(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    probe = "import runpy, sys; runpy.run_path(sys.argv[1])"
    return subprocess.run(
        [sys.executable, "-c", probe, str(ROOT / "functions" / "webhook" / "main.py")],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **base_env(None), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_function_refuses_to_start_for_a_waha_session_without_a_key() -> None:
    result = start_webhook(WAHA_ENV)
    assert result.returncode != 0
    assert "WAHA_WEBHOOK_HMAC_KEY" in result.stderr and "WAHA_ALLOW_UNSIGNED" in result.stderr
    assert start_webhook({**WAHA_ENV, "WAHA_WEBHOOK_HMAC_KEY": WAHA_KEY}).returncode == 0


# -- what each event stores ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [("message_image", "image"), ("message_voice", "audio"), ("message_document", "document")],
)
def test_media_goes_to_the_media_topic_with_waha_s_url(
    waha_webhook, firestore_db, topics, name, kind
) -> None:
    assert waha_webhook.post_waha(load_waha(name), key=WAHA_KEY).status_code == 200
    doc = next(iter(messages(firestore_db).values()))
    assert (doc["type"], doc["status"], doc["media"]["status"]) == (kind, "received", "pending")
    assert doc["media"]["url"].startswith("http://waha.local:3000/api/files/")
    assert len(topics.pull(MEDIA_TOPIC, expect=1)) == 1


@pytest.mark.parametrize("name", ["message_location", "message_vcard", "message_reply"])
def test_locations_vcards_and_replies_are_answered(waha_webhook, firestore_db, topics, name) -> None:
    assert waha_webhook.post_waha(load_waha(name), key=WAHA_KEY).status_code == 200
    assert len(topics.pull(REPLY_TOPIC, expect=1)) == 1


def test_a_hidden_number_gets_a_conversation_of_its_own(waha_webhook, firestore_db, topics) -> None:
    assert waha_webhook.post_waha(load_waha("message_lid"), key=WAHA_KEY).status_code == 200
    assert len(messages(firestore_db, "waha-default_lid.201234567890123")) == 1


@pytest.mark.parametrize(
    "name", ["message_group", "message_status_broadcast", "message_newsletter", "message_any_from_me_api"]
)
def test_groups_broadcasts_newsletters_and_our_own_sends_store_nothing(
    waha_webhook, firestore_db, topics, name
) -> None:
    assert waha_webhook.post_waha(load_waha(name), key=WAHA_KEY).status_code == 200
    assert list(firestore_db.collection("conversations").stream()) == []
    assert topics.pull(REPLY_TOPIC, wait=0.5) == []


def test_ignored_chats_are_logged_without_content(waha_webhook_process, waha_webhook, firestore_db) -> None:
    assert waha_webhook.post_waha(load_waha("message_group"), key=WAHA_KEY).status_code == 200
    log = waha_webhook_process.log_path.read_text()
    assert "WAHA message of a group chat ignored" in log
    assert "who is bringing the cake" not in log


def test_a_message_typed_on_the_business_phone_is_outbound_and_pauses_the_ai(
    waha_webhook, firestore_db, topics
) -> None:
    assert waha_webhook.post_waha(load_waha("message_text"), key=WAHA_KEY).status_code == 200
    receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)
    assert waha_webhook.post_waha(load_waha("message_any_from_me_app"), key=WAHA_KEY).status_code == 200
    echo = messages(firestore_db)["true_15551234567@c.us_3EB0C0FFEE0000000001"]
    assert (echo["direction"], echo["sent_by"], echo["text"]) == (
        "outbound",
        "business_app",
        "I'll bring it over myself, Kerry!",
    )
    conv = conversation(firestore_db)
    # Paused as a Coexistence echo pauses it: HUMAN_REPLY_PAUSE_MINUTES, then it resumes by itself.
    assert conv["human_reply_by"] == "business_app" and conv["human_reply_until"] > conv["human_reply_at"]
    customer = messages(firestore_db)["false_15551234567@c.us_3EB0A1B2C3D4E5F60718"]
    assert customer["status"] == "answered"  # the person answered it; the AI will not
    assert topics.pull(REPLY_TOPIC, wait=0.5) == []
    # A redelivery records nothing twice.
    assert waha_webhook.post_waha(load_waha("message_any_from_me_app"), key=WAHA_KEY).status_code == 200
    assert conversation(firestore_db)["message_count"] == 2


def record_our_reply(db) -> None:
    batch = db.batch()
    add_outbound(
        batch,
        db,
        conversation_id=CONV,
        wamid=OUR_REPLY,
        text="We open at 7.",
        sent_by=SentBy.AI,
        to="15551234567",
    )
    batch.commit()


def test_acks_move_our_message_forward_never_back(waha_webhook, firestore_db) -> None:
    record_our_reply(firestore_db)
    for name in ("ack_server", "ack_read", "ack_device", "ack_pending"):
        assert waha_webhook.post_waha(load_waha(name), key=WAHA_KEY).status_code == 200
    doc = messages(firestore_db)[OUR_REPLY]
    assert doc["status"] == "read"
    assert {"sent", "read"} <= set(doc["status_times"])
    assert waha_webhook.post_waha(load_waha("ack_played"), key=WAHA_KEY).status_code == 200
    assert messages(firestore_db)[OUR_REPLY]["status"] == "played"


def test_an_error_ack_fails_the_message_and_flags_the_conversation(waha_webhook, firestore_db) -> None:
    record_our_reply(firestore_db)
    assert waha_webhook.post_waha(load_waha("ack_error"), key=WAHA_KEY).status_code == 200
    doc = messages(firestore_db)[OUR_REPLY]
    assert doc["status"] == "failed" and "ack ERROR" in doc["error"]["title"]
    assert conversation(firestore_db)["needs_attention"] is True


def test_an_ack_before_its_message_is_recorded_is_parked_then_applied(waha_webhook, firestore_db) -> None:
    from shared.store.statuses import apply_parked_statuses

    assert waha_webhook.post_waha(load_waha("ack_device"), key=WAHA_KEY).status_code == 200
    record_our_reply(firestore_db)
    apply_parked_statuses(firestore_db, "waha-default_15551234567", OUR_REPLY)
    assert messages(firestore_db)[OUR_REPLY]["status"] == "delivered"


def test_reactions_are_recorded_and_never_answered(waha_webhook, firestore_db, topics) -> None:
    assert waha_webhook.post_waha(load_waha("reaction"), key=WAHA_KEY).status_code == 200
    doc = next(iter(messages(firestore_db).values()))
    assert (doc["type"], doc["status"]) == ("reaction", "ignored")
    assert doc["reaction"] == {"message_id": OUR_REPLY, "emoji": "🙏"}
    # Its job only records it in its conversation (shared/store/identity.py): nothing is answered.
    assert [j["reason"] for j in topics.pull(REPLY_TOPIC, wait=0.5)] == ["record"]


def test_a_revoked_message_is_kept_and_marked(waha_webhook, firestore_db, topics) -> None:
    assert waha_webhook.post_waha(load_waha("message_text"), key=WAHA_KEY).status_code == 200
    assert waha_webhook.post_waha(load_waha("revoked"), key=WAHA_KEY).status_code == 200
    doc = messages(firestore_db)["false_15551234567@c.us_3EB0A1B2C3D4E5F60718"]
    assert doc["revoked"] is True and doc["text"].startswith("Hello!")


@pytest.mark.parametrize("name", ["message_unknown_session", "message_bad_chat_id"])
def test_signed_bodies_that_cannot_be_read_are_quarantined(waha_webhook, firestore_db, name) -> None:
    assert waha_webhook.post_waha(load_waha(name), key=WAHA_KEY).status_code == 200
    (entry,) = quarantined(firestore_db)
    assert entry["reason"]
    assert list(firestore_db.collection("conversations").stream()) == []


def test_the_same_message_through_message_and_message_any_is_stored_once(
    waha_webhook, firestore_db, topics
) -> None:
    assert waha_webhook.post_waha(load_waha("message_text"), key=WAHA_KEY).status_code == 200
    receive_jobs(firestore_db, topics, REPLY_TOPIC, expect=1)
    assert waha_webhook.post_waha(load_waha("message_any_from_customer"), key=WAHA_KEY).status_code == 200
    assert len(messages(firestore_db)) == 1
    assert topics.pull(REPLY_TOPIC, wait=0.5) == []
