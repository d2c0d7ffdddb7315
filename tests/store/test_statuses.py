"""A failed status that comes after WhatsApp accepted one of the assistant's replies fails the
reply, the customer's messages it answered, and flags the conversation: the record must not go on
saying "sent" for a message nobody received."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.store import stats
from shared.store.schema import SentBy as Sender
from shared.store.schema import ai_responses
from shared.store.statuses import apply_status
from shared.whatsapp.models import DeliveryStatus, ReportedError, StatusUpdate
from tests.support.seed import (
    PHONE_NUMBER_ID,
    conversation,
    message,
    record_sent,
    store_ai_reply,
    store_inbound,
)

pytestmark = pytest.mark.emulators

WA_ID = "15550003333"

PERMANENT = {
    131047: ReportedError(
        131047,
        "Re-engagement message",
        details="Message failed to send because more than 24 hours have passed since the customer last replied.",
    ),
    131026: ReportedError(131026, "Message undeliverable", details="Unable to deliver message."),
}


def failed(wamid: str, code: int, callback_data: str | None = None) -> StatusUpdate:
    return StatusUpdate(
        wamid,
        DeliveryStatus.FAILED,
        datetime.now(UTC),
        WA_ID,
        (PERMANENT[code],),
        callback_data=callback_data,
    )


def failures(db) -> dict[str, int]:
    (today,) = stats.read_daily_stats(db, 1)
    return dict(today.failures_by_direction)


def reply_record(db, conv_id: str, reply_id: str) -> dict:
    return ai_responses(db, conv_id).document(reply_id).get().to_dict()


@pytest.mark.parametrize("code", [131047, 131026])
def test_a_failed_status_after_the_reply_was_sent_fails_the_reply_its_messages_and_flags_the_conversation(
    firestore_db, code
) -> None:
    conv_id, first = store_inbound(firestore_db, wa_id=WA_ID, text="is my order ready?")
    _, second = store_inbound(firestore_db, wa_id=WA_ID, text="hello?")
    out = store_ai_reply(firestore_db, conv_id, WA_ID, "Yes, it is ready.", answered=[first, second])
    reply_id = message(firestore_db, conv_id, out)["ai_response_id"]
    assert reply_record(firestore_db, conv_id, reply_id)["state"] == "sent"

    assert apply_status(firestore_db, PHONE_NUMBER_ID, failed(out, code, f"{reply_id}:0")) is True

    reply = reply_record(firestore_db, conv_id, reply_id)
    assert reply["state"] == "failed"
    assert (reply["error"]["code"], reply["error"]["wamid"]) == (code, out)
    for inbound in (first, second):
        stored = message(firestore_db, conv_id, inbound)
        assert stored["status"] == "failed"
        assert stored["error"]["code"] == code and stored["error"]["detail"] == PERMANENT[code].details
    assert message(firestore_db, conv_id, out)["status"] == "failed"
    flags = conversation(firestore_db, conv_id)
    assert flags["has_failure"] is True and flags["needs_attention"] is True
    assert failures(firestore_db) == {"outbound": 1, "inbound": 2}


def test_the_reply_is_found_through_the_outbound_messages_reply_id_without_callback_data(
    firestore_db,
) -> None:
    conv_id, inbound = store_inbound(firestore_db, wa_id=WA_ID)
    out = store_ai_reply(firestore_db, conv_id, WA_ID, "Hi!", answered=[inbound])
    reply_id = message(firestore_db, conv_id, out)["ai_response_id"]
    apply_status(firestore_db, PHONE_NUMBER_ID, failed(out, 131026))
    assert reply_record(firestore_db, conv_id, reply_id)["state"] == "failed"
    assert message(firestore_db, conv_id, inbound)["status"] == "failed"


def test_a_repeated_failed_webhook_changes_and_counts_nothing_more(firestore_db) -> None:
    conv_id, inbound = store_inbound(firestore_db, wa_id=WA_ID)
    out = store_ai_reply(firestore_db, conv_id, WA_ID, "Hi!", answered=[inbound])
    for _ in range(3):
        apply_status(firestore_db, PHONE_NUMBER_ID, failed(out, 131047))
    assert failures(firestore_db) == {"outbound": 1, "inbound": 1}


def test_a_failed_status_for_a_part_never_recorded_fails_its_reply_through_the_callback_data(
    firestore_db,
) -> None:
    """An instance stopped between WhatsApp accepting the part and recording it."""
    conv_id, inbound = store_inbound(firestore_db, wa_id=WA_ID)
    reply_id = "reply-crashed"
    ai_responses(firestore_db, conv_id).document(reply_id).set(
        {"state": "generated", "message_ids": [inbound], "parts": ["Hi!"], "in_flight_part": 0}
    )
    parked = apply_status(
        firestore_db, PHONE_NUMBER_ID, failed("wamid.NEVER_RECORDED", 131026, f"{reply_id}:0")
    )
    assert parked is False  # the message itself is still unknown: the status waits for it
    reply = reply_record(firestore_db, conv_id, reply_id)
    assert (reply["state"], reply["error"]["code"]) == ("failed", 131026)
    assert message(firestore_db, conv_id, inbound)["status"] == "failed"
    assert conversation(firestore_db, conv_id)["needs_attention"] is True


def test_a_parked_failed_status_is_applied_once_the_part_is_recorded_and_counted_once(firestore_db) -> None:
    """The failed webhook beat the sender's own write of the message."""
    conv_id, inbound = store_inbound(firestore_db, wa_id=WA_ID)
    reply_id = "reply-racing"
    ai_responses(firestore_db, conv_id).document(reply_id).set(
        {"state": "sent", "message_ids": [inbound], "parts": ["Hi!"], "in_flight_part": None}
    )
    wamid = "wamid.OUT_LATE"
    apply_status(firestore_db, PHONE_NUMBER_ID, failed(wamid, 131047, f"{reply_id}:0"))
    assert reply_record(firestore_db, conv_id, reply_id)["state"] == "failed"

    record_sent(firestore_db, conv_id, WA_ID, wamid, "Hi!", sent_by=Sender.AI, ai_response_id=reply_id)
    assert message(firestore_db, conv_id, wamid)["status"] == "failed"
    assert failures(firestore_db) == {"outbound": 1, "inbound": 1}


def test_an_operators_failed_message_flags_the_conversation_and_touches_no_reply(firestore_db) -> None:
    conv_id, inbound = store_inbound(firestore_db, wa_id=WA_ID)
    out = store_ai_reply(firestore_db, conv_id, WA_ID, "Hi!", answered=[inbound])
    reply_id = message(firestore_db, conv_id, out)["ai_response_id"]
    record_sent(firestore_db, conv_id, WA_ID, "wamid.OP1", "Hello from a person", sent_by=Sender.OPERATOR)
    apply_status(firestore_db, PHONE_NUMBER_ID, failed("wamid.OP1", 131026))
    assert message(firestore_db, conv_id, "wamid.OP1")["status"] == "failed"
    assert reply_record(firestore_db, conv_id, reply_id)["state"] == "sent"
    assert message(firestore_db, conv_id, inbound)["status"] == "answered"
    assert conversation(firestore_db, conv_id)["has_failure"] is True
