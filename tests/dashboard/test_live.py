"""Live updates: the JSON the pages poll brings new messages and status changes, and only them."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.store.statuses import apply_status
from shared.whatsapp.models import DeliveryStatus, StatusUpdate
from tests.support.seed import PHONE_NUMBER_ID, store_ai_reply, store_inbound

WA_ID = "15550008888"


def live(operator, conv: str, **params):
    response = operator.get(f"/conversations/{conv}/live", query_string=params)
    assert response.status_code == 200
    return response.get_json()


def test_a_new_message_arrives_in_the_next_poll(operator, firestore_db) -> None:
    conv, first = store_inbound(firestore_db, wa_id=WA_ID, text="first")
    state = live(operator, conv)
    assert [m["id"] for m in state["messages"]] == [first]
    _, second = store_inbound(firestore_db, wa_id=WA_ID, text="second")
    update = live(operator, conv, seen=state["seen"], newest=state["messages"][-1]["at"])
    assert second in [m["id"] for m in update["messages"]]
    assert update["messages"][-1]["text"] == "second"
    assert update["seen"] > state["seen"]


def test_a_poll_with_nothing_new_returns_only_the_watched_messages(operator, firestore_db) -> None:
    conv, first = store_inbound(firestore_db, wa_id=WA_ID, text="first")
    store_inbound(firestore_db, wa_id=WA_ID, text="second")
    state = live(operator, conv)
    update = live(operator, conv, seen=state["seen"], newest=state["messages"][-1]["at"], watch=first)
    assert [m["id"] for m in update["messages"]] == [first]


def test_a_status_change_of_a_reply_shows_in_the_next_poll(operator, firestore_db) -> None:
    conv, inbound = store_inbound(firestore_db, wa_id=WA_ID, text="hi")
    reply = store_ai_reply(firestore_db, conv, WA_ID, "Hello!", answered=[inbound])
    state = live(operator, conv)
    before = next(m for m in state["messages"] if m["id"] == reply)
    assert (before["status"], before["final"]) == ("accepted", False)
    apply_status(
        firestore_db, PHONE_NUMBER_ID, StatusUpdate(reply, DeliveryStatus.READ, datetime.now(UTC), WA_ID)
    )
    update = live(operator, conv, seen=state["seen"], newest=state["messages"][-1]["at"], watch=reply)
    after = next(m for m in update["messages"] if m["id"] == reply)
    assert (after["status"], after["final"]) == ("read", True)
    assert after["version"] != before["version"]
    assert after["ai"]["model"] == "gemini-test"


def test_watched_ids_that_are_not_message_ids_are_ignored(operator, firestore_db) -> None:
    conv, _ = store_inbound(firestore_db, wa_id=WA_ID, text="hi")
    state = live(operator, conv)
    update = live(operator, conv, seen=state["seen"], watch=["../../x", "__name__", "a/b"])
    assert update["messages"] == []


def test_the_conversation_list_hears_of_conversations_with_new_activity(operator, firestore_db) -> None:
    store_inbound(firestore_db, wa_id="15550008001", name="Old")
    since = operator.get(
        "/conversations/live", query_string={"since": datetime.now(UTC).isoformat()}
    ).get_json()
    assert since["conversations"] == []
    store_inbound(firestore_db, wa_id="15550008002", name="New <b>one</b>")
    update = operator.get("/conversations/live", query_string={"since": since["since"]}).get_json()
    assert [c["title"] for c in update["conversations"]] == ["New <b>one</b>"]


def test_a_malformed_time_is_a_bad_request(operator, firestore_db) -> None:
    conv, _ = store_inbound(firestore_db, wa_id=WA_ID, text="hi")
    assert operator.get(f"/conversations/{conv}/live?seen=yesterday").status_code == 400
