"""Replies to a user known only by their BSUID go by `recipient`; WhatsApp's 131062 (this kind of
message does not accept a BSUID) fails the reply with the reason in words and flags the
conversation. The jobs run in this process against the emulators, the simulator and the offline model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from local.offline_gemini import start_offline_gemini
from local.simulator import graph_api_url, start_simulator
from shared.ai_reply.job import handle_reply_job
from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.store.schema import conversation_ref, message_ref
from tests.support.cloud import PROJECT, REPLY_TOPIC
from tests.support.seed import store_identified

pytestmark = pytest.mark.emulators

PHONE = "15557652222"


@pytest.fixture
def services(emulators, firestore_db, topics) -> Iterator[dict]:
    simulator = start_simulator(
        access_token="token", webhook_url="http://127.0.0.1:9/unused", status_delay_seconds=0
    )
    model = start_offline_gemini()
    env = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "WHATSAPP_API_URL": graph_api_url(simulator),
        "WHATSAPP_API_TOKEN": "token",
        "GEMINI_BASE_URL": model.url,
        "MEDIA_BUCKET": "unused",
        "REPLY_TOPIC": REPLY_TOPIC,
    }
    yield {"simulator": simulator.state, "db": firestore_db, "env": env}
    simulator.stop()
    model.stop()


def phone_less_user_asks(services: dict, text: str) -> tuple[str, str, str]:
    user = services["simulator"].set_user(PHONE, {"username": "maya", "hide_phone": True})
    conv, wamid = store_identified(services["db"], user_id=user["user_id"], username="maya", text=text)
    settings = Settings.from_env(services["env"])
    received = ReceivedJob(Job(conv, wamid), f"pubsub-{wamid}", datetime.now(UTC))
    handle_reply_job(received, settings, Clients(settings, firestore=services["db"]))
    return conv, wamid, user["user_id"]


def test_a_phone_less_user_is_answered_marked_read_and_shown_typing_by_their_bsuid(services) -> None:
    conv, wamid, user_id = phone_less_user_asks(services, "do you open on sundays?")
    (reply,) = services["simulator"].outbox()
    assert reply["request"]["recipient"] == user_id and "to" not in reply["request"]
    assert reply["wa_id"] == PHONE  # the simulator knows whose BSUID it is
    assert message_ref(services["db"], conv, wamid).get().get("status") == "answered"
    (typing,) = services["simulator"].events("typing")
    assert typing["body"]["message_id"] == wamid


def test_131062_fails_the_reply_with_its_reason_and_flags_the_conversation(services) -> None:
    services["simulator"].configure({"refuse_user_id_types": ["text"]})
    conv, wamid, _ = phone_less_user_asks(services, "hello?")
    assert services["simulator"].outbox() == []
    failed = message_ref(services["db"], conv, wamid).get().to_dict()
    assert failed["status"] == "failed" and failed["error"]["code"] == 131062
    assert "known only by their username" in failed["error"]["title"]
    summary = conversation_ref(services["db"], conv).get().to_dict()
    assert summary["needs_attention"] and summary["has_failure"]
