"""The operator's actions: pause and resume the AI, reply by hand through WhatsApp (the local
simulator plays Meta), and retry what failed."""

from __future__ import annotations

import re

import pytest

from tests.support.cloud import REPLY_TOPIC
from tests.support.seed import conversation, message, record_refused, store_inbound

WA_ID = "15550006666"


@pytest.fixture
def conv(firestore_db) -> str:
    conv_id, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Dana", text="Is anyone there?")
    return conv_id


def reply_form(operator, conv_id: str) -> dict[str, str]:
    page = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)
    return {"send_key": re.search(r'name="send_key" value="([0-9a-f]+)"', page).group(1)}


def test_pausing_and_resuming_the_ai_flips_the_flag_and_resuming_clears_attention(
    operator, firestore_db, conv
) -> None:
    firestore_db.collection("conversations").document(conv).update({"needs_attention": True})
    response = operator.post(f"/conversations/{conv}/pause")
    assert response.status_code == 303 and "notice=paused" in response.headers["Location"]
    assert conversation(firestore_db, conv)["ai_paused"] is True
    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    assert "Resume AI" in page and "The AI is paused" not in page
    operator.post(f"/conversations/{conv}/resume")
    stored = conversation(firestore_db, conv)
    assert stored["ai_paused"] is False and stored["needs_attention"] is False


def test_marking_handled_clears_attention_and_failure(operator, firestore_db, conv) -> None:
    firestore_db.collection("conversations").document(conv).update(
        {"needs_attention": True, "has_failure": True}
    )
    operator.post(f"/conversations/{conv}/clear")
    stored = conversation(firestore_db, conv)
    assert (stored["needs_attention"], stored["has_failure"]) == (False, False)


def test_a_reply_by_hand_goes_through_whatsapp_and_is_recorded_as_the_operators(
    operator, firestore_db, simulator, conv
) -> None:
    form = reply_form(operator, conv)
    response = operator.post(
        f"/conversations/{conv}/reply", {**form, "text": "  Hello Dana, how can I help?  "}
    )
    assert response.status_code == 303 and "notice=sent" in response.headers["Location"]
    sent = simulator.outbox(WA_ID)
    assert [m["text"] for m in sent] == ["Hello Dana, how can I help?"]
    stored = message(firestore_db, conv, sent[0]["wamid"])
    assert stored["direction"] == "outbound"
    assert stored["sent_by"] == "operator"
    assert stored["operator"] == "operator"
    assert stored["text"] == "Hello Dana, how can I help?"
    thread = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "author-operator" in thread and "Your reply was sent." in thread


def test_the_same_reply_form_sent_twice_sends_one_message(operator, simulator, conv) -> None:
    form = {**reply_form(operator, conv), "text": "only once"}
    operator.post(f"/conversations/{conv}/reply", form)
    second = operator.post(f"/conversations/{conv}/reply", form)
    assert "notice=duplicate" in second.headers["Location"]
    assert len(simulator.outbox(WA_ID)) == 1


@pytest.mark.parametrize(
    ("text", "notice"),
    [("   ", "empty"), ("x" * 4097, "too_long"), ("😀" * 2049, "too_long")],  # an emoji is 2 UTF-16 units
)
def test_an_empty_or_too_long_reply_is_not_sent(operator, simulator, conv, text, notice) -> None:
    response = operator.post(f"/conversations/{conv}/reply", {**reply_form(operator, conv), "text": text})
    assert f"notice={notice}" in response.headers["Location"]
    assert simulator.outbox(WA_ID) == []


def test_a_reply_whatsapp_refuses_is_reported_and_can_be_sent_again(operator, simulator, conv) -> None:
    simulator.add_faults([{"target": "send", "code": 131047, "count": 1}])
    form = {**reply_form(operator, conv), "text": "late answer"}
    refused = operator.post(f"/conversations/{conv}/reply", form)
    assert "notice=refused" in refused.headers["Location"] and "code=131047" in refused.headers["Location"]
    page = operator.get(refused.headers["Location"]).get_data(as_text=True)
    assert "WhatsApp refused the message (error 131047)." in page
    again = operator.post(f"/conversations/{conv}/reply", form)
    assert "notice=sent" in again.headers["Location"]
    assert [m["text"] for m in simulator.outbox(WA_ID)] == ["late answer"]


def test_retrying_a_failed_inbound_message_makes_it_ready_and_queues_a_reply_job(
    operator, firestore_db, topics, conv
) -> None:
    wamid = next(
        iter(
            d.id
            for d in firestore_db.collection("conversations").document(conv).collection("messages").stream()
        )
    )
    firestore_db.collection("conversations").document(conv).collection("messages").document(wamid).update(
        {
            "status": "failed",
            "error": {"code": "model_unavailable", "title": "The model did not answer", "detail": ""},
        }
    )
    page = operator.get(f"/conversations/{conv}").get_data(as_text=True)
    assert "The model did not answer" in page and "Retry" in page
    response = operator.post(f"/conversations/{conv}/messages/{wamid}/retry")
    assert "notice=retry_queued" in response.headers["Location"]
    stored = message(firestore_db, conv, wamid)
    assert (stored["status"], stored["retry_count"], stored["retried_by"]) == ("ready", 1, "operator")
    jobs = topics.pull(REPLY_TOPIC, expect=1)
    assert [(j["conversation_id"], j["message_id"], j["reason"]) for j in jobs] == [(conv, wamid, "retry")]
    again = operator.post(f"/conversations/{conv}/messages/{wamid}/retry")  # a second click
    assert "notice=in_progress" in again.headers["Location"]
    assert topics.pull(REPLY_TOPIC, wait=0.5) == []


def test_retrying_a_failed_reply_sends_its_text_again_once(operator, firestore_db, simulator, conv) -> None:
    record_refused(
        firestore_db,
        conv,
        WA_ID,
        "reply-failed-1",
        "Here is your answer",
        {"code": 131000, "title": "Something went wrong", "detail": ""},
    )
    response = operator.post(f"/conversations/{conv}/messages/reply-failed-1/retry")
    assert "notice=resent" in response.headers["Location"]
    sent = simulator.outbox(WA_ID)
    assert [m["text"] for m in sent] == ["Here is your answer"]
    assert message(firestore_db, conv, "reply-failed-1")["retried_as"] == sent[0]["wamid"]
    assert message(firestore_db, conv, sent[0]["wamid"])["sent_by"] == "ai"
    twice = operator.post(f"/conversations/{conv}/messages/reply-failed-1/retry")
    assert "notice=not_failed" in twice.headers["Location"]
    assert len(simulator.outbox(WA_ID)) == 1


def test_actions_on_an_unknown_conversation_change_nothing(operator, firestore_db) -> None:
    response = operator.post("/conversations/100_999/pause")
    assert "notice=not_found" in response.headers["Location"]
    assert not firestore_db.collection("conversations").document("100_999").get().exists


def test_a_reply_by_hand_in_a_waha_conversation_goes_out_through_its_waha_session(
    make_app, firestore_db, simulator, simulator_server
) -> None:
    from local.simulator import waha_api_url
    from local.simulator.config import DEFAULT_WAHA_API_KEY
    from tests.support.dashboard import Operator

    app = make_app(
        WAHA_URL=waha_api_url(simulator_server), WAHA_SESSION="default", WAHA_API_KEY=DEFAULT_WAHA_API_KEY
    )
    operator = Operator(app.test_client())
    assert operator.login().status_code == 302
    conv, _ = store_inbound(
        firestore_db,
        wa_id=WA_ID,
        name="Dana",
        text="hola",
        wamid=f"false_{WA_ID}@c.us_3EB0DA7A",
        phone_number_id="waha-default",
    )
    response = operator.post(
        f"/conversations/{conv}/reply", {**reply_form(operator, conv), "text": "Hola Dana"}
    )
    assert response.status_code == 303 and "notice=sent" in response.headers["Location"]
    (sent,) = simulator.outbox(WA_ID)
    assert (sent["provider"], sent["to"], sent["text"]) == ("waha", f"{WA_ID}@c.us", "Hola Dana")
    assert message(firestore_db, conv, sent["wamid"])["sent_by"] == "operator"
