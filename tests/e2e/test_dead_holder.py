"""A reply whose instance dies mid-reply, end to end: the lease it leaves is waited out, and the
customer gets exactly one reply once it runs out.

The ai_reply instance is SIGKILLed while it holds the conversation's lease (the model is made to
think for long), as Cloud Run stops an instance at its timeout or memory limit: nothing in it
runs again, so nobody lets the lease go. A fresh instance takes its place on the same address.
The lease it left would run REPLY_LEASE_SECONDS (minutes, as it must outlive a whole job); the
test shortens what is left of it to a few seconds, as if those minutes had passed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from local.stack import LocalStack
from tests.support.system import System


def test_a_reply_whose_instance_died_holding_the_lease_is_sent_exactly_once_after_the_lease_runs_out(
    system: System, stack: LocalStack
) -> None:
    system.model_fault(delay_seconds=60)  # the first answer takes long: the instance dies meanwhile
    wamid = system.say("are you still open tonight?")
    system.wait_for(lambda: system.model_requests(), what="the model to be asked")
    held = system.conversation()["reply_lease"]
    assert held["holder"]

    stack.kill_function("ai_reply")
    lease_ends = datetime.now(UTC) + timedelta(seconds=6)
    system.db.collection("conversations").document(system.conversation_id).update(
        {"reply_lease.until": lease_ends}
    )
    # Redelivered meanwhile (the killed delivery, then the job watching the lease): not answered
    # while the dead instance's lease holds, and not given up on either.
    while datetime.now(UTC) < lease_ends - timedelta(seconds=0.5):
        assert system.outbox() == [], "answered while another instance still held the lease"
        time.sleep(0.2)

    (reply,) = system.replies(1, timeout=60)
    assert datetime.now(UTC) >= lease_ends
    assert reply["text"].endswith('You said: "are you still open tonight?"')
    time.sleep(3)  # a second reply, were one coming, would show up by now
    assert len(system.outbox()) == 1
    inbound = next(m for m in system.messages() if m["id"] == wamid)
    assert inbound["status"] == "answered"
    (response,) = system.ai_responses()
    # The killed instance counted its attempt before asking the model; the new one finished it.
    assert (response["state"], response["attempts"]) == ("sent", 2)
    conversation = system.conversation()
    assert conversation["reply_lease"] is None and conversation["reply_waiter"] is None
