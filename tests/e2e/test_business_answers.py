"""Choices and handoffs through the whole system as `make dev` runs it: simulator -> webhook ->
Pub/Sub -> ai_reply -> offline model -> simulator, and the customer's tap back the same way."""

from __future__ import annotations

import time

from tests.support.system import System


def test_choices_arrive_as_one_list_message_and_the_tap_is_the_next_message(system: System) -> None:
    options = [f"Pastry number {n} with a rather long descriptive name" for n in range(1, 15)]
    system.say("Which pastry?\noptions: " + "; ".join(options))

    (offer,) = system.replies(1)
    assert offer["type"] == "interactive"
    rows = offer["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == 10 and all(len(r["title"]) <= 24 for r in rows)
    stored = system.wait_for(
        lambda: [m for m in system.messages() if m["direction"] == "outbound"], what="offer"
    )
    assert stored[0]["type"] == "interactive"

    tap = {"type": "list_reply", "list_reply": {"id": rows[2]["id"], "title": rows[2]["title"]}}
    system.say_spec({"type": "interactive", "interactive": tap, "context": {"id": offer["wamid"]}})

    system.replies(2)
    history = system.model_requests()[-1]["body"]["contents"]
    assert history[-1]["parts"][-1]["text"].endswith(f"[Tapped: {rows[2]['title']}]")
    assert any("[Offered choices:" in p.get("text", "") for turn in history for p in turn["parts"])


def test_asking_for_a_person_hands_over_once_and_the_assistant_stays_silent(system: System) -> None:
    system.say("Kann ich bitte mit einem Menschen sprechen?")

    (handoff,) = system.replies(1)
    conversation = system.wait_for(
        lambda: (c := system.conversation()).get("handoff_waiting") and c, what="the handoff"
    )
    assert conversation["ai_paused"] and conversation["needs_attention"]
    assert conversation["handoff"]["reason"]

    system.say("Hallo? Ist da jemand?")
    system.wait_for(
        lambda: any(m.get("text") == "Hallo? Ist da jemand?" for m in system.messages()),
        what="the second message",
    )
    time.sleep(2)  # the time a wrong second reply would need
    assert [m["wamid"] for m in system.outbox()] == [handoff["wamid"]]
