"""An operator's reply from the dashboard pauses the assistant in that conversation, as the
owner's from the WhatsApp Business app does, for HUMAN_REPLY_PAUSE_MINUTES; the conversation
then says who answers, and until when. A phone-less customer is written to by their BSUID."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.support.seed import conversation, store_identified, store_inbound

WA_ID = "15550007777"


def send(operator, conv: str, text: str):
    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    key = re.search(r'name="send_key" value="([0-9a-f]+)"', page).group(1)
    return operator.post(f"/conversations/{conv}/reply", {"send_key": key, "text": text})


def test_an_operators_reply_pauses_the_assistant_for_the_configured_minutes(make_app, firestore_db) -> None:
    from tests.support.dashboard import Operator

    operator = Operator(make_app(HUMAN_REPLY_PAUSE_MINUTES="15").test_client())
    operator.login()
    conv, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Dana", text="Is anyone there?")
    before = datetime.now(UTC)
    assert send(operator, conv, "Yes, Sam here.").status_code == 303
    stored = conversation(firestore_db, conv)
    assert stored["human_reply_by"] == "operator"
    assert timedelta(minutes=14) < stored["human_reply_until"] - before <= timedelta(minutes=15, seconds=5)
    assert stored["resume_at"] == stored["human_reply_until"]
    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    assert "Answering now: Operator · the assistant resumes at" in page


def test_with_no_pause_configured_an_operators_reply_pauses_nothing(make_app, firestore_db) -> None:
    from tests.support.dashboard import Operator

    operator = Operator(make_app(HUMAN_REPLY_PAUSE_MINUTES="0").test_client())
    operator.login()
    conv, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Dana", text="hello")
    send(operator, conv, "hi")
    stored = conversation(firestore_db, conv)
    assert stored["human_reply_by"] == "operator" and "human_reply_until" not in stored


def test_an_operator_writes_to_a_phone_less_customer_by_their_bsuid(
    operator, firestore_db, simulator
) -> None:
    user = simulator.set_user(WA_ID, {"username": "dana", "hide_phone": True})
    assert user["user_id"]
    conv, _ = store_identified(firestore_db, user_id=user["user_id"], username="dana", job_topic=None)
    assert send(operator, conv, "Hello Dana").status_code == 303
    (sent,) = simulator.outbox(WA_ID)
    assert sent["request"]["recipient"] == user["user_id"] and "to" not in sent["request"]
