"""One conversation per business number and user, whichever of their identifiers a message comes
with: phone and BSUID, BSUID only (a username), phone only (stored before BSUIDs), and through
changes of number and of BSUID. The webhook files by the message's own ids; the consumer's
arrival moves a message to its user's conversation, keeping history whole."""

from __future__ import annotations

from shared.store.inbound import record_job_arrival
from shared.store.schema import conversation_ref, message_ref, messages
from tests.support.seed import PHONE_NUMBER_ID, store_identified, store_inbound

PHONE = "16505551234"
NEW_PHONE = "16505559876"
BSUID = "US.13491208655302741918"
NEW_BSUID = "US.22817364550198273645"


def conv(key: str) -> str:
    return f"{PHONE_NUMBER_ID}_{key}"


def doc(db, key: str) -> dict | None:
    snap = conversation_ref(db, conv(key)).get()
    return snap.to_dict() if snap.exists else None


def arrive(db, filed: str, wamid: str) -> str:
    arrived = record_job_arrival(db, filed, wamid)
    assert arrived is not None
    return arrived.conversation_id


def texts(db, key: str) -> list[str]:
    found = [s.to_dict() for s in messages(db, conv(key)).stream()]
    return sorted(m["text"] for m in found if "moved_to" not in m)


def test_phone_and_bsuid_start_one_conversation_keyed_by_phone_with_a_link_for_the_bsuid(
    firestore_db,
) -> None:
    filed, wamid = store_identified(firestore_db, phone=PHONE, user_id=BSUID, name="Maya", text="hi")
    assert filed == conv(PHONE)
    assert arrive(firestore_db, filed, wamid) == conv(PHONE)
    summary = doc(firestore_db, PHONE)
    assert (summary["wa_id"], summary["user_id"], summary["display_name"]) == (PHONE, BSUID, "Maya")
    assert doc(firestore_db, BSUID) == {
        "moved_to": conv(PHONE),
        "linked_at": doc(firestore_db, BSUID)["linked_at"],
    }


def test_the_same_user_without_their_phone_joins_their_conversation_with_their_username(firestore_db) -> None:
    first, wamid = store_identified(firestore_db, phone=PHONE, user_id=BSUID, text="first")
    arrive(firestore_db, first, wamid)
    filed, later = store_identified(firestore_db, user_id=BSUID, username="maya.bakes", text="second")
    assert filed == conv(BSUID)  # the webhook read nothing: it filed by the BSUID
    assert arrive(firestore_db, filed, later) == conv(PHONE)
    assert texts(firestore_db, PHONE) == ["first", "second"]
    summary = doc(firestore_db, PHONE)
    assert (summary["message_count"], summary["username"], summary["wa_id"]) == (2, "maya.bakes", PHONE)
    stub = message_ref(firestore_db, conv(BSUID), later).get().to_dict()
    assert stub["moved_to"] == conv(PHONE) and stub["job"]["received_at"] is not None
    # Delivered again, the job finds the message where it went and counts nothing twice.
    assert arrive(firestore_db, filed, later) == conv(PHONE)
    assert doc(firestore_db, PHONE)["message_count"] == 2
    assert "last_message_at" not in doc(firestore_db, BSUID)  # a link is never listed


def test_a_conversation_stored_before_bsuids_existed_learns_the_bsuid(firestore_db) -> None:
    old, wamid = store_inbound(firestore_db, wa_id=PHONE, text="back in 2025", job_topic="whatsapp-reply")
    arrive(firestore_db, old, wamid)
    assert "user_id" not in doc(firestore_db, PHONE)
    filed, now = store_identified(firestore_db, phone=PHONE, user_id=BSUID, text="2026")
    arrive(firestore_db, filed, now)
    assert doc(firestore_db, PHONE)["user_id"] == BSUID
    filed, later = store_identified(firestore_db, user_id=BSUID, username="maya", text="no phone")
    assert arrive(firestore_db, filed, later) == conv(PHONE)
    assert texts(firestore_db, PHONE) == ["2026", "back in 2025", "no phone"]


def test_a_user_who_came_without_a_phone_keeps_their_conversation_when_it_is_shared(firestore_db) -> None:
    filed, wamid = store_identified(firestore_db, user_id=BSUID, username="maya", text="phone-less")
    assert arrive(firestore_db, filed, wamid) == conv(BSUID)
    assert "wa_id" not in doc(firestore_db, BSUID)
    filed, later = store_identified(firestore_db, phone=PHONE, user_id=BSUID, text="with phone")
    assert filed == conv(PHONE)
    assert arrive(firestore_db, filed, later) == conv(BSUID)
    assert doc(firestore_db, BSUID)["wa_id"] == PHONE
    assert doc(firestore_db, PHONE)["moved_to"] == conv(BSUID)
    assert texts(firestore_db, BSUID) == ["phone-less", "with phone"]


def test_a_changed_number_moves_the_conversation_to_the_new_ids_without_losing_history(firestore_db) -> None:
    filed, wamid = store_identified(firestore_db, phone=PHONE, user_id=BSUID, text="before")
    arrive(firestore_db, filed, wamid)
    change = {
        "body": f"User Maya changed from {PHONE} to {NEW_PHONE}",
        "type": "user_changed_number",
        "wa_id": NEW_PHONE,
        "user_id": NEW_BSUID,
        "previous_user_id": BSUID,
    }
    filed, system = store_identified(firestore_db, phone=PHONE, user_id=BSUID, system=change)
    assert arrive(firestore_db, filed, system) == conv(PHONE)
    summary = doc(firestore_db, PHONE)
    assert (summary["wa_id"], summary["user_id"]) == (NEW_PHONE, NEW_BSUID)  # replies go there now
    filed, after = store_identified(firestore_db, phone=NEW_PHONE, user_id=NEW_BSUID, text="after")
    assert arrive(firestore_db, filed, after) == conv(PHONE)
    assert texts(firestore_db, PHONE) == [change["body"], "after", "before"]


def test_a_changed_bsuid_alone_is_followed_too(firestore_db) -> None:
    filed, wamid = store_identified(firestore_db, user_id=BSUID, username="maya", text="before")
    arrive(firestore_db, filed, wamid)
    change = {
        "body": "id changed",
        "type": "user_changed_user_id",
        "user_id": NEW_BSUID,
        "previous_user_id": BSUID,
    }
    filed, system = store_identified(firestore_db, user_id=NEW_BSUID, system=change)
    assert arrive(firestore_db, filed, system) == conv(BSUID)
    assert doc(firestore_db, BSUID)["user_id"] == NEW_BSUID
    filed, after = store_identified(firestore_db, user_id=NEW_BSUID, username="maya", text="after")
    assert arrive(firestore_db, filed, after) == conv(BSUID)
    assert texts(firestore_db, BSUID) == ["after", "before", "id changed"]


def test_a_new_user_costs_one_conversation_per_business_number(firestore_db) -> None:
    other_number = "100000000000002"
    a, wa = store_identified(firestore_db, phone=PHONE, user_id=BSUID, text="sales?")
    b, wb = store_identified(
        firestore_db, phone=PHONE, user_id=BSUID, text="support?", phone_number_id=other_number
    )
    assert arrive(firestore_db, a, wa) != arrive(firestore_db, b, wb)
    assert doc(firestore_db, PHONE)["phone_number_id"] == PHONE_NUMBER_ID


def test_a_phone_less_conversation_and_one_from_before_bsuids_become_one(firestore_db) -> None:
    # Before the upgrade: a conversation by phone. After it, the user first writes without it.
    old, wamid = store_inbound(firestore_db, wa_id=PHONE, text="from 2025", job_topic="whatsapp-reply")
    arrive(firestore_db, old, wamid)
    filed, phoneless = store_identified(firestore_db, user_id=BSUID, username="maya", text="no phone")
    assert arrive(firestore_db, filed, phoneless) == conv(BSUID)  # nothing could tell yet
    # Then a message with both: the two are one user, and become one conversation.
    filed, both = store_identified(firestore_db, phone=PHONE, user_id=BSUID, text="both ids")
    assert arrive(firestore_db, filed, both) == conv(PHONE)
    assert texts(firestore_db, PHONE) == ["both ids", "from 2025", "no phone"]
    summary = doc(firestore_db, PHONE)
    assert (summary["message_count"], summary["username"], summary["merged_from"]) == (
        3,
        "maya",
        [conv(BSUID)],
    )
    assert "other_conversations" not in summary
    assert doc(firestore_db, BSUID) == {
        "moved_to": conv(PHONE),
        "linked_at": doc(firestore_db, BSUID)["linked_at"],
    }
    # The user writes without the phone again: straight into the one conversation.
    filed, later = store_identified(firestore_db, user_id=BSUID, username="maya", text="again")
    assert arrive(firestore_db, filed, later) == conv(PHONE)


def test_a_new_number_that_wrote_before_its_change_was_reported_is_merged_in(firestore_db) -> None:
    filed, wamid = store_identified(firestore_db, phone=PHONE, user_id=BSUID, text="old number")
    arrive(firestore_db, filed, wamid)
    filed, early = store_identified(firestore_db, phone=NEW_PHONE, user_id=NEW_BSUID, text="new number")
    assert arrive(firestore_db, filed, early) == conv(NEW_PHONE)
    change = {"body": "changed", "type": "user_changed_number", "wa_id": NEW_PHONE, "user_id": NEW_BSUID}
    filed, system = store_identified(firestore_db, phone=PHONE, user_id=BSUID, system=change)
    assert arrive(firestore_db, filed, system) == conv(PHONE)
    assert texts(firestore_db, PHONE) == ["changed", "new number", "old number"]
    assert doc(firestore_db, NEW_PHONE)["moved_to"] == conv(PHONE)
    assert doc(firestore_db, NEW_BSUID)["moved_to"] == conv(PHONE)  # no chain of links
