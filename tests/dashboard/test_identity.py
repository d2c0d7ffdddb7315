"""The dashboard knows customers by every identifier WhatsApp gives: phone (when shared),
username and BSUID, searches by any of them, shows who answers each conversation now, and
tells the owner's messages from the Business app apart from the assistant's and an operator's."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from shared.store.schema import SentBy, conversation_ref
from tests.support.seed import PHONE_NUMBER_ID, new_wamid, record_sent, store_identified

BSUID = "US.13491208655302741918"
OTHER_BSUID = "US.22817364550198273645"


def conversation_ids(html: str) -> list[str]:
    return re.findall(r'data-conversation-id="([^"]+)"', html)


def seed(db) -> tuple[str, str]:
    phoneless, _ = store_identified(db, user_id=BSUID, username="maya.bakes", name="Maya", job_topic=None)
    with_phone, _ = store_identified(
        db, phone="16505550000", user_id=OTHER_BSUID, name="Ravi", job_topic=None
    )
    return phoneless, with_phone


def test_a_phone_less_customer_shows_username_and_bsuid_and_a_known_phone_shows_too(
    operator, firestore_db
) -> None:
    phoneless, _ = seed(firestore_db)
    html = operator.get("/conversations").get_data(as_text=True)
    assert f"@maya.bakes · {BSUID}" in html
    assert f"+16505550000 · {OTHER_BSUID}" in html
    page = operator.get(f"/conversations/{phoneless}").get_data(as_text=True)
    assert f"@maya.bakes · {BSUID}" in page and "+None" not in page and "+US." not in page


def test_search_finds_a_customer_by_phone_bsuid_username_or_name(operator, firestore_db) -> None:
    phoneless, with_phone = seed(firestore_db)

    def found(query: str) -> list[str]:
        return conversation_ids(
            operator.get("/conversations", query_string={"q": query}).get_data(as_text=True)
        )

    assert found("+1 650 555") == [with_phone]
    assert found("US.1349") == [phoneless]
    assert found("us.2281") == [with_phone]
    assert found("@maya.b") == [phoneless]
    assert found("maya") == [phoneless]  # the name, casefolded, and the username
    assert found("RAVI") == [with_phone]


def test_the_list_says_who_answers_each_conversation_now(operator, firestore_db) -> None:
    phoneless, with_phone = seed(firestore_db)
    until = datetime.now(UTC) + timedelta(minutes=42)
    conversation_ref(firestore_db, phoneless).set(
        {"human_reply_by": "business_app", "human_reply_until": until}, merge=True
    )
    html = operator.get("/conversations").get_data(as_text=True)
    rows = dict(zip(conversation_ids(html), html.split('data-conversation-id="')[1:], strict=True))
    assert "Business app · paused until" in rows[phoneless]
    assert until.strftime("%H:%M") in rows[phoneless]
    assert "Assistant" in rows[with_phone]
    conversation_ref(firestore_db, with_phone).set({"ai_paused": True}, merge=True)
    html = operator.get("/conversations").get_data(as_text=True)
    assert "Operator (AI paused)" in html
    live = operator.get("/conversations/live", query_string={"since": "2000-01-01T00:00:00+00:00"}).get_json()
    answering = {row["id"]: row["answering"] for row in live["conversations"]}
    assert answering[phoneless]["who"] == "business_app" and answering[phoneless]["until"]
    assert {row["id"]: row["identity"] for row in live["conversations"]}[
        phoneless
    ] == f"@maya.bakes · {BSUID}"


def test_the_owners_messages_from_the_business_app_are_shown_as_theirs(operator, firestore_db) -> None:
    conv, _ = store_identified(firestore_db, phone="16505550001", user_id=BSUID, job_topic=None)
    for text, by in (
        ("Sam here, from the shop", SentBy.BUSINESS_APP),
        ("an operator writes", SentBy.OPERATOR),
        ("the assistant writes", SentBy.AI),
    ):
        record_sent(firestore_db, conv, "16505550001", new_wamid("out"), text, sent_by=by)
    html = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    labels = re.findall(r'class="message message-outbound author-(\w+)', html)
    assert labels == ["business_app", "operator", "ai"]
    assert ">Business app</span>" in html
    assert PHONE_NUMBER_ID in conv
