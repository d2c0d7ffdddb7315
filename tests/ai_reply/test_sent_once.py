"""Sent once: what a redelivered job does after a crash at each point of a reply.

The reply function runs in this process against the emulators, the WhatsApp simulator and the
offline model, so a test can leave Firestore exactly as a crashed instance would have.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shared.store import replies
from shared.store.schema import SentBy
from tests.support.reply_jobs import (
    CONV,
    CUSTOMER,
    PHONE_NUMBER_ID,
    reply_services,
    run_job,
    seed_ready_message,
)
from tests.support.seed import record_sent


@pytest.fixture
def services(emulators, firestore_db) -> Iterator[dict]:
    yield from reply_services(firestore_db)


def test_a_crash_after_sending_and_before_recording_never_sends_again(services) -> None:
    db = services["db"]
    message = seed_ready_message(db)
    record = replies.open_reply(db, CONV, [message], retention_days=0)
    replies.save_answer(db, record, {"model": "m", "text": "On its way!"}, ["On its way!"])
    record.ref.update({"in_flight_part": 0})  # sent, then the instance died before storing the wamid

    run_job(services)

    assert services["simulator"].outbox() == []
    assert services["model"].requests() == []
    stored = record.ref.get().to_dict()
    assert stored["state"] == "unknown"
    message = db.collection("conversations").document(CONV).collection("messages").document("wamid.IN1").get()
    assert message.get("status") == "failed"
    assert message.get("error")["code"] == "outcome_unknown"
    assert db.collection("conversations").document(CONV).get().get("needs_attention") is True


def test_a_crash_after_generating_sends_the_stored_answer_without_asking_the_model_again(services) -> None:
    db = services["db"]
    message = seed_ready_message(db)
    record = replies.open_reply(db, CONV, [message], retention_days=0)
    replies.save_answer(db, record, {"model": "m", "text": "On its way!"}, ["On its way!"])

    run_job(services)

    (sent,) = services["simulator"].outbox()
    assert sent["text"] == "On its way!"
    assert services["model"].requests() == []
    assert record.ref.get().get("state") == "sent"


def test_a_crash_after_sending_the_first_part_sends_only_the_rest(services) -> None:
    db = services["db"]
    message = seed_ready_message(db)
    record = replies.open_reply(db, CONV, [message], retention_days=0)
    replies.save_answer(db, record, {"model": "m", "text": "a b"}, ["part one", "part two"])
    record.ref.update({"sent_wamids": {"p0": "wamid.OUT-ALREADY"}})

    run_job(services)

    assert [m["text"] for m in services["simulator"].outbox()] == ["part two"]
    assert record.ref.get().get("state") == "sent"


def test_a_job_after_the_reply_was_settled_sends_nothing(services) -> None:
    db = services["db"]
    seed_ready_message(db)
    run_job(services)
    run_job(services)
    assert len(services["simulator"].outbox()) == 1
    assert len(services["model"].requests()) == 1


def test_a_status_that_arrives_before_the_reply_is_recorded_is_applied_afterwards(services) -> None:
    from shared.store.statuses import apply_status
    from shared.whatsapp.models import DeliveryStatus, StatusUpdate

    db = services["db"]
    seed_ready_message(db)
    now = datetime.now(UTC)
    assert (
        apply_status(
            db, PHONE_NUMBER_ID, StatusUpdate("wamid.EARLY", DeliveryStatus.DELIVERED, now, CUSTOMER)
        )
        is False
    )
    record_sent(db, CONV, CUSTOMER, "wamid.EARLY", "hi", sent_by=SentBy.AI, phone_number_id=PHONE_NUMBER_ID)
    message = (
        db.collection("conversations").document(CONV).collection("messages").document("wamid.EARLY").get()
    )
    assert message.get("status") == "delivered"
    assert not db.collection("orphan_statuses").document("wamid.EARLY").get().exists


def test_an_invalid_token_fails_loudly_and_the_answer_waits_for_a_fixed_token(services, caplog) -> None:
    from shared.whatsapp.errors import AuthenticationFailed

    db = services["db"]
    seed_ready_message(db)
    services["simulator"].add_faults([{"target": "send", "code": 190, "count": 1}])
    with pytest.raises(AuthenticationFailed):
        run_job(services)
    assert any(
        r.levelname == "ERROR" and "sending the reply failed" in r.getMessage() for r in caplog.records
    )
    (record,) = [
        d.to_dict() for d in db.collection("conversations").document(CONV).collection("ai_responses").stream()
    ]
    assert (record["state"], record["in_flight_part"]) == ("generated", None)  # known not sent

    run_job(services)  # the redelivery, once the token works again
    assert len(services["simulator"].outbox()) == 1
    assert len(services["model"].requests()) == 1


def test_an_operators_reply_answers_the_waiting_messages_so_the_ai_does_not_answer_them_again(
    services,
) -> None:
    from shared.dashboard.conversations import get_conversation
    from shared.dashboard.sending import SendOutcome, new_send_key, send_operator_reply

    db = services["db"]
    seed_ready_message(db)
    result = send_operator_reply(
        db,
        get_conversation(db, CONV),
        "A colleague will call you",
        key=new_send_key(),
        operator="dana@example.com",
        sender=services["clients"].whatsapp,
    )
    assert result.outcome is SendOutcome.SENT
    inbound = db.collection("conversations").document(CONV).collection("messages").document("wamid.IN1").get()
    assert (inbound.get("status"), inbound.get("answered_by")) == ("answered", "operator")
    run_job(services)
    assert [m["text"] for m in services["simulator"].outbox()] == ["A colleague will call you"]
    assert services["model"].requests() == []


def test_a_token_refused_while_showing_typing_stops_the_reply_before_anything_is_sent(services) -> None:
    from shared.whatsapp.errors import AuthenticationFailed

    db = services["db"]
    seed_ready_message(db)
    services["simulator"].add_faults([{"target": "typing", "code": 190, "count": 1}])
    with pytest.raises(AuthenticationFailed):
        run_job(services)
    assert services["simulator"].outbox() == []
    run_job(services)  # the redelivery sends the answer already generated
    assert len(services["simulator"].outbox()) == 1
    assert len(services["model"].requests()) == 1
