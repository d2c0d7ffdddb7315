"""Templates, the 24-hour window and the cost ledger through the whole system as `make dev` runs
it: the simulator's clock closes the window, its template reviews reach the webhook, and what it
bills on statuses is what the overview prices."""

from __future__ import annotations

import time

import pytest

from local.simulator import DEFAULT_WABA_ID
from shared.dashboard.overview import read_overview
from shared.store import rates
from shared.store.templates import list_templates, sync_templates
from shared.whatsapp.templates import Template
from tests.support.system import System

WE_ARE_BACK = {
    "name": "we_are_back",
    "language": "en_US",
    "category": "UTILITY",
    "components": [{"type": "BODY", "text": "Hi {{1}}, we have an answer for you. Reply to see it."}],
}
DAY = 24 * 3600


def approve_reengagement_template(system: System) -> None:
    created = system.simulator.state.add_template(WE_ARE_BACK)
    sync_templates(system.db, DEFAULT_WABA_ID, [Template.from_graph(created)])


def conversation_ref(system: System):
    return system.db.collection("conversations").document(system.conversation_id)


def answer_due_after_the_window_closed(system: System) -> None:
    """The customer writes while the AI is paused; a day passes; the AI is resumed."""
    system.say("hello?")
    system.wait_for(lambda: system.replies(1, timeout=1), what="the first answer")
    conversation_ref(system).update({"ai_paused": True})
    system.say("are you still there?")
    system.wait_for(lambda: system.conversation().get("needs_attention"), what="the paused job")
    system.simulator.state.advance_clock(DAY + 60)
    conversation_ref(system).update({"ai_paused": False, "needs_attention": False})
    system.publish_reply_job()


def settle(seconds: float) -> None:
    time.sleep(seconds)


def test_an_answer_due_after_the_window_closed_sends_the_reengagement_template_exactly_once(
    system: System,
) -> None:
    approve_reengagement_template(system)
    answer_due_after_the_window_closed(system)

    sent = system.wait_for(
        lambda: [m for m in system.outbox() if m["type"] == "template"], timeout=30, what="the template"
    )
    system.publish_reply_job()  # more jobs for the same waiting message
    system.publish_reply_job("reengage")
    settle(3)

    assert [m["type"] for m in system.outbox()] == ["text", "template"]
    assert sent[0]["text"] == "Hi Test, we have an answer for you. Reply to see it."
    refused = [e for e in system.simulator.state.events("send") if e["status"] == 400]
    assert [e["error"]["error"]["code"] for e in refused] == [131047]  # the free-form answer, once
    assert system.conversation()["needs_attention"] is True


def test_without_an_approved_template_the_conversation_is_flagged_and_nothing_more_is_sent(
    system: System,
) -> None:
    answer_due_after_the_window_closed(system)

    system.wait_for(lambda: system.conversation().get("window_closed_waiting"), timeout=30, what="the flag")
    settle(2)

    assert [m["type"] for m in system.outbox()] == ["text"]
    assert system.conversation()["needs_attention"] is True


def test_a_reply_reported_failed_with_131047_sends_the_template_once(system: System) -> None:
    approve_reengagement_template(system)
    system.fault(target="delivery", code=131047)

    system.say("late answer please")

    system.wait_for(
        lambda: [m for m in system.outbox() if m["type"] == "template"], timeout=30, what="the template"
    )
    settle(3)
    assert [m["type"] for m in system.outbox()] == ["text", "template"]
    (response,) = system.ai_responses()
    assert response["state"] == "failed" and response["error"]["code"] == 131047


def test_template_reviews_reach_the_stored_list_through_the_webhook(system: System) -> None:
    created = system.simulator.state.add_template({**WE_ARE_BACK, "status": "PENDING"})
    sync_templates(system.db, DEFAULT_WABA_ID, [Template.from_graph(created)])

    system.simulator.state.review_template(created["id"], "APPROVED")
    system.simulator.state.rate_template(created["id"], "YELLOW")

    (stored,) = system.wait_for(
        lambda: [t for t in list_templates(system.db) if t.quality == "YELLOW"], what="the quality update"
    )
    assert stored.status == "APPROVED"
    system.simulator.state.review_template(created["id"], "PAUSED")
    system.wait_for(lambda: list_templates(system.db)[0].status == "PAUSED", what="the pause")


def test_the_overviews_costs_are_what_the_simulator_billed_and_the_model_used(system: System) -> None:
    rates.forget_cached_card()
    system.say("what are your opening hours?")
    system.say("and on Sundays?")
    system.wait_for(lambda: system.replies(2, timeout=1) or system.replies(1, timeout=1), what="answers")
    settle(2)  # the statuses (with their pricing) of every answer
    billed = [m for m in system.outbox()]
    system.wait_for(
        lambda: all(m.get("pricing") for m in system.messages() if m["direction"] == "outbound"),
        what="pricing on every outbound message",
    )

    overview = read_overview(system.db)

    card = rates.read_rate_card(system.db)
    expected_whatsapp = sum(card.message_rate(m["pricing"]["category"], "north_america") for m in billed)
    tokens = {"input": 0, "cached": 0, "output": 0, "thinking": 0}
    for response in system.ai_responses():
        tokens["input"] += response["input_tokens"] - response["cached_tokens"]
        tokens["cached"] += response["cached_tokens"]
        tokens["output"] += response["output_tokens"]
        tokens["thinking"] += response["thinking_tokens"]
    expected_model = card.tokens_cost({"gemini-3.8-flash": tokens})
    today = overview.costs.days[-1][1]
    assert today.by_category == {"service": pytest.approx(expected_whatsapp)}
    assert today.model == pytest.approx(expected_model)
    assert today.messages_billed == len(billed)
