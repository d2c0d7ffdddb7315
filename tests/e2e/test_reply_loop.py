"""The reply loop end to end: simulator -> webhook -> Pub/Sub push -> ai_reply -> offline model -> simulator."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

from tests.support.system import System


def settle(seconds: float = 2.0) -> None:
    """Give a wrongly duplicated reply the time it would need to show up."""
    time.sleep(seconds)


def test_a_text_gets_exactly_one_reply_with_the_models_text_to_the_right_number(system: System) -> None:
    wamid = system.say("Hola, ¿abren el domingo?")
    (reply,) = system.replies(1)
    assert (
        reply["text"]
        == '[offline model] I received 1 text part and 0 media parts. You said: "Hola, ¿abren el domingo?"'
    )
    assert reply["to"] == "+" + system.customer
    assert reply["reply_to"] == wamid  # quoted: the reply answers the customer's message
    settle()
    assert len(system.outbox()) == 1

    inbound, outbound = system.wait_for(
        lambda: (
            (m := system.messages()) and len(m) == 2 and m[1].get("status") in ("read", "delivered") and m
        ),
        what="ticks",
    )
    assert (inbound["status"], inbound["ai_response_id"]) == ("answered", outbound["ai_response_id"])
    assert (outbound["direction"], outbound["sent_by"], outbound["wamid"]) == (
        "outbound",
        "ai",
        reply["wamid"],
    )
    (response,) = system.ai_responses()
    assert response["state"] == "sent"
    assert response["message_ids"] == [wamid]
    assert response["model"] == "gemini-3.8-flash"
    assert response["input_tokens"] > 0 and response["output_tokens"] > 0
    assert response["finish_reason"] == "STOP"
    assert response["latency_ms"] >= 0
    # The reply function recorded the job's arrival, and with it the message joined its conversation.
    assert inbound["job"]["state"] == "published"
    summary = system.conversation()
    assert (summary["message_count"], summary["display_name"]) == (2, "Test Customer")


def test_each_reply_keeps_its_thinking_and_cached_tokens_and_the_day_counts_them(system: System) -> None:
    from local.offline_gemini import THINKING_TOKENS
    from shared.store import stats

    system.say("first question")
    system.replies(1)
    system.say("second question")
    system.replies(2)
    first, second = system.wait_for(
        lambda: (r := system.ai_responses()) and len(r) == 2 and all(x["state"] == "sent" for x in r) and r,
        what="two sent replies",
    )
    request = system.model_requests()[-1]
    assert request["thinking_level"] == "LOW" and "temperature" not in request["body"]["generationConfig"]
    assert first["thinking_tokens"] == second["thinking_tokens"] == THINKING_TOKENS["LOW"]
    assert (first["cached_tokens"], first["thinking_level"]) == (0, "low")
    assert second["cached_tokens"] > 0  # the same system instruction, served from the cache
    (today,) = stats.read_daily_stats(system.db, 1)
    assert today.tokens_thinking == 2 * THINKING_TOKENS["LOW"]
    assert today.tokens_cached == second["cached_tokens"]
    assert today.tokens == today.tokens_in + today.tokens_out + today.tokens_thinking


def test_the_message_is_marked_read_with_a_typing_indicator_before_the_reply(system: System) -> None:
    wamid = system.say("hello")
    system.replies(1)
    typing = [e for e in system.simulator.state.events() if e.get("kind") == "typing"]
    assert typing and typing[0]["body"]["message_id"] == wamid


def test_three_messages_in_a_second_are_each_answered_exactly_once(system: System) -> None:
    wamids = [system.say(text) for text in ("I want to order", "two pizzas", "and a cola")]
    system.wait_for(
        lambda: all(m.get("status") == "answered" for m in system.messages() if m["direction"] == "inbound"),
        what="all answered",
    )
    settle()
    responses = system.ai_responses()
    answered = [w for r in responses for w in r["message_ids"]]
    assert sorted(answered) == sorted(wamids)  # every message in exactly one reply
    assert len(system.outbox()) == len(responses) <= 3
    # Replies are in order and never overlap: each starts after the previous one settled.
    for earlier, later in itertools.pairwise(responses):
        assert earlier["settled_at"] <= later["created_at"]
    last_request = system.model_requests()[-1]["summary"]
    assert last_request["text_parts"] >= 1


def test_a_redelivered_job_sends_nothing_more(system: System) -> None:
    system.say("just once please")
    system.replies(1)
    system.publish_reply_job(reason="inbound")
    system.publish_reply_job(reason="retry")
    settle(3)
    assert len(system.outbox()) == 1
    assert len(system.ai_responses()) == 1


def test_the_model_answering_429_twice_then_succeeding_gives_one_reply(system: System) -> None:
    system.model_fault(status=429, count=2)
    system.say("are you there?")
    (reply,) = system.replies(1, timeout=30)
    assert reply["text"].startswith("[offline model]")
    settle()
    assert len(system.outbox()) == 1
    assert len(system.model_requests()) == 3


def test_a_model_that_keeps_failing_leaves_the_message_failed_and_nothing_sent(system: System) -> None:
    system.model_fault(status=503, count=1000)
    system.say("hello?")
    inbound = system.wait_for(
        lambda: (m := system.messages()) and m[0].get("status") == "failed" and m[0],
        timeout=60,
        what="message failed",
    )
    assert inbound["error"]["code"] == "model_unavailable"
    (response,) = system.ai_responses()
    assert (response["state"], response["attempts"]) == ("failed", 3)
    assert system.conversation()["needs_attention"] is True
    assert system.outbox() == []
    assert [e for e in system.simulator.state.events() if e.get("kind") == "send"] == []


def test_outside_the_24_hour_window_the_reply_fails_and_is_not_retried(system: System) -> None:
    system.fault(target="send", code=131047, count=5)
    system.say("late answer please")
    outbound = system.wait_for(
        lambda: [m for m in system.messages() if m["direction"] == "outbound"], what="failed outbound"
    )[0]
    assert outbound["status"] == "failed"
    assert outbound["error"]["code"] == 131047
    settle(3)
    sends = [e for e in system.simulator.state.events() if e.get("kind") == "send"]
    assert len(sends) == 1  # refused once, never tried again
    assert system.messages()[0]["status"] == "failed"
    assert system.conversation()["has_failure"] is True


def test_a_reply_accepted_then_reported_undeliverable_ends_failed_not_sent(system: System) -> None:
    """WhatsApp takes the reply (a wamid comes back) and later sends a failed status (131026)."""
    system.fault(target="delivery", code=131026)
    wamid = system.say("can you hear me?")
    (response,) = system.wait_for(
        lambda: (r := system.ai_responses()) and r[0].get("state") == "failed" and r,
        timeout=30,
        what="the reply to be failed by its status",
    )
    assert response["error"]["code"] == 131026
    inbound = next(m for m in system.messages() if m["id"] == wamid)
    assert (inbound["status"], inbound["error"]["code"]) == ("failed", 131026)
    outbound = next(m for m in system.messages() if m["direction"] == "outbound")
    assert (outbound["status"], outbound["ai_response_id"]) == ("failed", response["id"])
    assert system.conversation()["needs_attention"] is True
    settle()
    assert len([e for e in system.simulator.state.events() if e.get("kind") == "send"]) == 1  # not resent


def test_a_rate_limit_from_whatsapp_is_retried_and_the_reply_arrives_once(system: System) -> None:
    system.fault(target="send", code=130429, count=2)
    system.say("busy day?")
    (reply,) = system.replies(1, timeout=30)
    settle()
    assert len(system.outbox()) == 1
    assert reply["text"].startswith("[offline model]")


def test_a_paused_conversation_gets_no_reply_and_needs_attention(system: System) -> None:
    system.db.collection("conversations").document(system.conversation_id).set({"ai_paused": True})
    system.say("I want a human")
    system.wait_for(lambda: system.conversation().get("needs_attention"), what="needs attention")
    settle()
    assert system.outbox() == []
    assert system.model_requests() == []


def test_concurrent_jobs_for_one_conversation_never_overlap(system: System) -> None:
    system.model_fault(delay_seconds=0.5, count=10)  # a slow model widens any window for overlap
    system.say("first")
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: system.publish_reply_job(), range(6)))
    system.say("second")
    system.wait_for(
        lambda: all(m.get("status") == "answered" for m in system.messages() if m["direction"] == "inbound"),
        timeout=30,
        what="both answered",
    )
    settle()
    responses = system.ai_responses()
    assert len(system.outbox()) == len(responses)
    assert sorted(w for r in responses for w in r["message_ids"]) == sorted(
        m["id"] for m in system.messages() if m["direction"] == "inbound"
    )
    for earlier, later in itertools.pairwise(responses):
        assert earlier["settled_at"] <= later["created_at"]


def test_an_operators_retry_of_a_failed_message_gets_it_answered(system: System) -> None:
    from shared.clients import Clients
    from shared.config import Settings
    from shared.dashboard.actions import Outcome, failed_message, retry_inbound
    from tests.support.cloud import PROJECT
    from tests.support.system import E2E_ENV

    system.model_fault(status=503, count=1000)
    wamid = system.say("please answer eventually")
    system.wait_for(lambda: system.messages()[0].get("status") == "failed", timeout=60, what="message failed")
    requests_before = len(system.model_requests())
    system.model.state.reset()  # the model works again

    message = failed_message(system.db, system.conversation_id, wamid)
    outcome = retry_inbound(
        system.db,
        message,
        conversation_id=system.conversation_id,
        reply_topic=E2E_ENV["REPLY_TOPIC"],
        media_topic=E2E_ENV["MEDIA_TOPIC"],
        bus=Clients(Settings(google_cloud_project=PROJECT)).bus,
        operator="ops@example.com",
    )
    assert outcome is Outcome.DONE
    (reply,) = system.replies(1, timeout=30)
    assert reply["text"].endswith('You said: "please answer eventually"')
    assert requests_before >= 3
    # The failed reply stays on record; the retry is a new one.
    system.wait_for(
        lambda: sorted(r["state"] for r in system.ai_responses()) == ["failed", "sent"], what="sent"
    )
    assert system.messages()[0]["status"] == "answered"
