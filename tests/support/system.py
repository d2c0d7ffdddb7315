"""The whole system as `make dev` runs it, driven the way a customer and an operator would."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import requests

from local.stack import LocalStack
from tests.support.cloud import PROJECT

E2E_ENV = {
    "MEDIA_TOPIC": "e2e-media",
    "REPLY_TOPIC": "e2e-reply",
    "GEMINI_MAX_ATTEMPTS": "2",  # keeps the model-failure tests short; the policy is the same
    "GEMINI_MODEL": "gemini-3.8-flash",
    # Sent once when an answer is due after the window closed; a test that does not sync it into
    # the templates collection sees the conversation flagged instead.
    "REENGAGE_TEMPLATE": "we_are_back:en_US",
    "HUMAN_REPLY_PAUSE_MINUTES": "0.05",  # 3 s: an echo's pause, and its end, within a test
}


class System:
    """What a test does to the running system, and what it reads back."""

    def __init__(self, stack: LocalStack, db: Any) -> None:
        self.stack = stack
        self.db = db
        self.simulator = stack.servers["simulator"]
        self.model = stack.servers["offline_model"]
        self.phone_number_id = self.simulator.state.config.phone_number_id
        # A fresh customer per test, so a late job of an earlier test never touches this one.
        self.customer = f"1555{random.randint(1_000_000, 9_999_999)}"

    @property
    def conversation_id(self) -> str:
        return f"{self.phone_number_id}_{self.customer}"

    def say(self, text: str, **fields: Any) -> str:
        return self.say_spec({"type": "text", "text": text, **fields})

    def say_spec(self, spec: dict[str, Any]) -> str:
        """Send any message the simulator can build, as this test's customer."""
        answer = self.simulator.state.send_inbound({"from": self.customer, "name": "Test Customer", **spec})
        assert answer["webhook_status"] == 200, answer
        return answer["wamid"]

    def replies(self, count: int, timeout: float = 20.0) -> list[dict]:
        return self.simulator.state.wait_outbox(count, timeout, wa_id=self.customer)

    def outbox(self) -> list[dict]:
        return self.simulator.state.outbox(wa_id=self.customer)

    def fault(self, **spec: Any) -> None:
        self.simulator.state.add_faults([spec])

    def model_fault(self, **spec: Any) -> None:
        requests.post(self.model.url + "/_fake/faults", json=spec, timeout=5).raise_for_status()

    def model_requests(self) -> list[dict]:
        return requests.get(self.model.url + "/_fake/requests", timeout=5).json()["requests"]

    def conversation(self) -> dict:
        return self.db.collection("conversations").document(self.conversation_id).get().to_dict() or {}

    def messages(self) -> list[dict]:
        ref = self.db.collection("conversations").document(self.conversation_id).collection("messages")
        return [{**d.to_dict(), "id": d.id} for d in ref.order_by("created_at").stream()]

    def ai_responses(self) -> list[dict]:
        ref = self.db.collection("conversations").document(self.conversation_id).collection("ai_responses")
        return [{**d.to_dict(), "id": d.id} for d in ref.order_by("created_at").stream()]

    def publish_reply_job(self, reason: str = "retry") -> None:
        from google.cloud import pubsub_v1

        from shared.bus import Job

        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(PROJECT, E2E_ENV["REPLY_TOPIC"])
        publisher.publish(topic, Job(self.conversation_id, reason=reason).encode()).result(timeout=10)

    def wait_for(self, condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
