"""The consumer's side of an inbound message: its job's arrival applies it to its conversation once.

The webhook writes only the message; the first consumer to receive its job (media or reply)
brings the conversation's summary and the counters up to date. Pub/Sub delivers a job at least
once and a burst's jobs arrive together, so each of these must count a message exactly once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from shared.store import stats
from shared.store.inbound import record_job_arrival
from shared.store.schema import conversation_ref, message_ref
from tests.support.cloud import REPLY_TOPIC
from tests.support.seed import PHONE_NUMBER_ID, store_inbound

CUSTOMER = "15550001111"
CONV = f"{PHONE_NUMBER_ID}_{CUSTOMER}"


def store(
    db, wamid: str, text: str = "hello", *, name: str = "Ana", job_topic: str | None = REPLY_TOPIC
) -> None:
    """The webhook's one write for a message."""
    store_inbound(db, wa_id=CUSTOMER, name=name, text=text, wamid=wamid, job_topic=job_topic)


def conversation(db) -> dict:
    return conversation_ref(db, CONV).get().to_dict() or {}


def test_the_webhook_writes_only_the_message_and_the_arrival_adds_it_to_its_conversation(
    firestore_db,
) -> None:
    store(firestore_db, "wamid.A", "where is my order?")
    assert not conversation_ref(firestore_db, CONV).get().exists

    published = datetime.now(UTC) - timedelta(seconds=1)
    arrived = record_job_arrival(firestore_db, CONV, "wamid.A", published_at=published)
    assert arrived is not None and arrived.conversation_id == CONV
    message = arrived.message
    assert message is not None and message["text"] == "where is my order?"
    job = message_ref(firestore_db, CONV, "wamid.A").get().get("job")
    assert job["state"] == "published"
    assert job["published_at"] == published and job["received_at"] >= published
    conv = conversation(firestore_db)
    assert (conv["wa_id"], conv["phone_number_id"], conv["display_name"]) == (
        CUSTOMER,
        PHONE_NUMBER_ID,
        "Ana",
    )
    assert (conv["message_count"], conv["last_message_preview"]) == (1, "where is my order?")
    assert conv["created_at"] == conv["last_inbound_at"] == message["received_at"]
    (today,) = stats.read_daily_stats(firestore_db, 1)
    assert today.messages_in_by_type == {"text": 1}
    assert stats.read_lifetime(firestore_db)["conversations"] == 1


def test_a_job_delivered_several_times_at_once_counts_its_message_once(firestore_db) -> None:
    store(firestore_db, "wamid.FIRST")
    record_job_arrival(firestore_db, CONV, "wamid.FIRST")  # the conversation exists: no create to collide on
    wamids = [f"wamid.A{i}" for i in range(3)]
    for wamid in wamids:
        store(firestore_db, wamid)
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda w: record_job_arrival(firestore_db, CONV, w), wamids * 8))
    assert all(m is not None for m in found)
    assert record_job_arrival(firestore_db, CONV, "wamid.A0") is not None  # and once more, later
    assert conversation(firestore_db)["message_count"] == 4
    assert stats.read_daily_stats(firestore_db, 1)[0].messages_in == 4
    assert stats.read_lifetime(firestore_db)["conversations"] == 1


def test_the_first_messages_of_a_burst_arriving_together_start_the_conversation_once(firestore_db) -> None:
    wamids = [f"wamid.B{i}" for i in range(4)]
    for wamid in wamids:
        store(firestore_db, wamid)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda w: record_job_arrival(firestore_db, CONV, w), wamids))
    assert conversation(firestore_db)["message_count"] == 4
    assert stats.read_lifetime(firestore_db)["conversations"] == 1
    assert stats.read_daily_stats(firestore_db, 1)[0].messages_in == 4


def test_an_older_message_arriving_late_keeps_the_newer_preview(firestore_db) -> None:
    store(firestore_db, "wamid.OLD", "first", name="Ana")
    store(firestore_db, "wamid.NEW", "second", name="Ana María")
    record_job_arrival(firestore_db, CONV, "wamid.NEW")
    before = conversation(firestore_db)
    record_job_arrival(firestore_db, CONV, "wamid.OLD")
    after = conversation(firestore_db)
    assert (after["last_message_preview"], after["display_name"]) == ("second", "Ana María")
    assert after["last_inbound_at"] == before["last_inbound_at"]
    assert after["message_count"] == 2
    assert after["last_message_at"] > before["last_message_at"]  # the live list still sees the change


def test_a_conversation_written_before_its_first_message_is_started_by_it(firestore_db) -> None:
    conversation_ref(firestore_db, CONV).set({"ai_paused": True})  # an operator paused it ahead
    store(firestore_db, "wamid.A")
    record_job_arrival(firestore_db, CONV, "wamid.A")
    conv = conversation(firestore_db)
    assert conv["ai_paused"] is True
    assert conv["message_count"] == 1 and conv["created_at"] is not None
    assert stats.read_lifetime(firestore_db)["conversations"] == 1


def test_a_conversation_being_started_by_a_message_without_a_job_is_not_started_again(firestore_db) -> None:
    # Between the two writes of a reaction that starts a conversation: counted, no created_at yet.
    conversation_ref(firestore_db, CONV).set({"wa_id": CUSTOMER, "message_count": 1})
    store(firestore_db, "wamid.A")
    record_job_arrival(firestore_db, CONV, "wamid.A")
    first = firestore_db.batch()  # the reaction's second write lands
    first.update(conversation_ref(firestore_db, CONV), {"created_at": datetime.now(UTC)})
    stats.add_lifetime_increments(first, firestore_db, stats.conversation_started(), CONV)
    first.commit()
    assert stats.read_lifetime(firestore_db)["conversations"] == 1
    assert conversation(firestore_db)["message_count"] == 2


def test_a_message_stored_without_a_job_is_counted_by_the_webhook_and_not_again(firestore_db) -> None:
    store(firestore_db, "wamid.R", job_topic=None)  # a reaction, say: no consumer will see it
    assert conversation(firestore_db)["message_count"] == 1
    assert record_job_arrival(firestore_db, CONV, "wamid.R") is not None  # an operator's retry job
    assert conversation(firestore_db)["message_count"] == 1
    assert stats.read_daily_stats(firestore_db, 1)[0].messages_in == 1


def test_the_arrival_of_a_job_for_an_unknown_message_writes_nothing(firestore_db) -> None:
    assert record_job_arrival(firestore_db, CONV, "wamid.NOPE") is None
    assert not conversation_ref(firestore_db, CONV).get().exists
    assert stats.read_daily_stats(firestore_db, 1)[0].messages_in == 0
