"""Identity and Coexistence end to end: simulator -> webhook -> Pub/Sub -> ai_reply -> simulator.

A customer with a username and a hidden phone is answered once, through `recipient`; the owner
writing from the WhatsApp Business app pauses the assistant, which resumes by itself after the
(shortened) pause and answers what waited; two business numbers answer with their own voices.
"""

from __future__ import annotations

import time

from shared.store import business_numbers
from tests.support.system import System


def settle(seconds: float = 2.0) -> None:
    time.sleep(seconds)


def test_a_customer_without_a_phone_gets_exactly_one_answer_through_their_bsuid(system: System) -> None:
    simulator = system.simulator.state
    user = simulator.set_user(system.customer, {"username": "maya.bakes", "hide_phone": True})
    wamid = system.say("do you deliver on sundays?")
    (reply,) = system.replies(1)
    assert reply["request"]["recipient"] == user["user_id"] and "to" not in reply["request"]
    assert reply["reply_to"] == wamid
    settle()
    assert len(system.outbox()) == 1

    conv_id = f"{system.phone_number_id}_{user['user_id']}"  # filed by the BSUID: no phone known
    conversation = system.db.collection("conversations").document(conv_id).get().to_dict()
    assert (conversation["user_id"], conversation["username"]) == (user["user_id"], "maya.bakes")
    assert "wa_id" not in conversation
    # The status webhooks name the user by BSUID only, and still find the reply.
    messages = system.db.collection("conversations").document(conv_id).collection("messages")
    system.wait_for(
        lambda: messages.document(reply["wamid"]).get().get("status") in ("delivered", "read"),
        what="the reply's ticks",
    )


def test_a_customer_known_by_phone_who_hides_it_stays_in_their_conversation(system: System) -> None:
    system.say("hi, it's me")
    system.replies(1)
    system.simulator.state.set_user(system.customer, {"username": "me.again", "hide_phone": True})
    system.say("still me, now with a username")
    replies = system.replies(2)
    assert "to" in replies[0]["request"] and "recipient" not in replies[0]["request"]
    assert "still me" in replies[1]["text"]
    texts = [m.get("text") for m in system.messages() if m["direction"] == "inbound"]
    assert texts == ["hi, it's me", "still me, now with a username"]  # one conversation, both messages
    assert system.conversation()["username"] == "me.again"


def test_the_owner_writing_from_the_business_app_pauses_the_assistant_until_it_resumes_by_itself(
    system: System,
) -> None:
    simulator = system.simulator.state
    system.say("is the bakery open today?")
    system.replies(1)
    simulator.send_from_business_app({"to": system.customer, "text": "Sam here: yes, until 6!"})
    system.wait_for(lambda: system.conversation().get("human_reply_by") == "business_app", what="the pause")
    system.say("great, do you have croissants?")
    settle(1.0)
    assert len([m for m in system.outbox() if not m.get("business_app")]) == 1  # quiet while the owner talks

    # HUMAN_REPLY_PAUSE_MINUTES is 3 s in E2E_ENV, and the stack sweeps every second.
    replies = system.wait_for(
        lambda: (r := [m for m in system.outbox() if not m.get("business_app")]) and len(r) == 2 and r,
        timeout=30,
        what="the assistant to resume",
    )
    assert "croissants" in replies[1]["text"]
    settle()
    assert len([m for m in system.outbox() if not m.get("business_app")]) == 2
    echo = next(m for m in system.messages() if m.get("sent_by") == "business_app")
    assert echo["text"] == "Sam here: yes, until 6!"


def test_two_business_numbers_answer_one_customer_each_with_its_own_voice(system: System) -> None:
    simulator = system.simulator.state
    sales, support = system.phone_number_id, "100000000000777"
    simulator.configure({"extra_phone_number_ids": [support]})
    try:
        business_numbers.save(
            system.db, sales, {"business_name": "Acme Sales", "system_instruction": "Sell."}, operator="e2e"
        )
        business_numbers.save(
            system.db,
            support,
            {"business_name": "Acme Support", "system_instruction": "Help."},
            operator="e2e",
        )
        system.say("where is my order?")
        system.replies(1)
        system.say_spec({"type": "text", "text": "where is my order?", "phone_number_id": support})
        first, second = system.replies(2)
        assert (first["phone_number_id"], second["phone_number_id"]) == (sales, support)
        assert first["text"].startswith("[offline model] Acme Sales here.")
        assert second["text"].startswith("[offline model] Acme Support here.")
        instructions = [
            "".join(p["text"] for p in r["body"]["systemInstruction"]["parts"])
            for r in system.model_requests()
        ]
        assert instructions[0].startswith("You answer on behalf of Acme Sales.\n\nSell.")
        assert instructions[1].startswith("You answer on behalf of Acme Support.\n\nHelp.")
    finally:
        simulator.configure({"extra_phone_number_ids": []})
