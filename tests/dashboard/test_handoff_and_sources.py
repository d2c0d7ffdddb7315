"""What operators see of the assistant's business answers: sources beside the answer, a handoff
first in the list and on the conversation, until they resume the AI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.store.schema import ai_responses, conversation_ref
from tests.support.seed import store_ai_reply, store_inbound

WA_ID = "15550007777"


def hand_over(db, conv: str, reason: str, at: datetime) -> None:
    """The writes of shared/ai_reply/handoff.py add_handoff."""
    conversation_ref(db, conv).set(
        {
            "ai_paused": True,
            "needs_attention": True,
            "handoff": {"reason": reason, "at": at, "reply_id": "r"},
            "handoff_waiting": True,
            "handoff_at": at,
        },
        merge=True,
    )


def test_the_answer_shows_the_passages_it_was_given_cited_first(operator, firestore_db):
    conv, question = store_inbound(firestore_db, wa_id=WA_ID, text="When do you open?")
    store_ai_reply(firestore_db, conv, WA_ID, "We open at 07:30.", answered=[question])
    (record,) = list(ai_responses(firestore_db, conv).stream())
    record.reference.update(
        {
            "knowledge": [
                {
                    "title": "faq.md",
                    "heading": "Delivery",
                    "text": "We deliver in Alfama.",
                    "similarity": 0.61,
                    "cited": False,
                },
                {
                    "title": "hours.md",
                    "heading": "Opening hours",
                    "text": "We open at 07:30.",
                    "similarity": 0.83,
                    "cited": True,
                },
            ]
        }
    )

    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)

    assert "Sources (2)" in page
    assert page.index("hours.md › Opening hours") < page.index("faq.md › Delivery")
    assert "0.83" in page


def test_a_handed_over_conversation_comes_first_in_the_list_with_its_reason(operator, firestore_db):
    handed, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Handed Over", text="I want a person")
    hand_over(
        firestore_db,
        handed,
        "The customer asked to talk to a person.",
        datetime.now(UTC) - timedelta(hours=1),
    )
    store_inbound(
        firestore_db, wa_id="15550008888", name="Newer Customer", text="hello"
    )  # more recent activity

    page = operator.get("/conversations").get_data(as_text=True)

    assert page.index("Waiting for a person") < page.index("Handed Over") < page.index("Newer Customer")
    assert page.count("Handed Over") == 1  # pinned, not listed twice
    assert "asked for a person" in page and "The customer asked to talk to a person." in page
    conversation = operator.get(f"/conversations/{handed}").get_data(as_text=True)
    assert 'id="handoff-banner"' in conversation


def test_resuming_the_ai_ends_the_handoff(operator, firestore_db):
    conv, _ = store_inbound(firestore_db, wa_id=WA_ID, text="A human please")
    hand_over(firestore_db, conv, "The customer asked to talk to a person.", datetime.now(UTC))

    operator.post(f"/conversations/{conv}/resume")

    data = conversation_ref(firestore_db, conv).get().to_dict()
    assert data["ai_paused"] is False and data["handoff_waiting"] is False
    assert data["ai_resumed_at"] > data["handoff"]["at"]
    assert "Waiting for a person" not in operator.get("/conversations").get_data(as_text=True)


def test_marking_it_handled_takes_it_off_the_waiting_list_and_the_ai_stays_paused(operator, firestore_db):
    conv, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Taken Over", text="A human please")
    hand_over(firestore_db, conv, "The customer asked to talk to a person.", datetime.now(UTC))

    operator.post(f"/conversations/{conv}/clear")

    data = conversation_ref(firestore_db, conv).get().to_dict()
    assert data["handoff_waiting"] is False and data["ai_paused"] is True
    assert "Waiting for a person" not in operator.get("/conversations").get_data(as_text=True)
