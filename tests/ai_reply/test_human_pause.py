"""A human's reply pauses the assistant in that conversation, and it resumes by itself: the owner
writing from the WhatsApp Business app (an echo) or an operator from the dashboard; when the
pause runs out with no other human message, the sweep starts a reply job that answers what is
still waiting, once.

The jobs run in this process against the emulators, the WhatsApp simulator and the offline model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from local.offline_gemini import start_offline_gemini
from local.simulator import graph_api_url, start_simulator
from shared.ai_reply.job import handle_reply_job
from shared.ai_reply.resume import sweep_job
from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.store.coexistence import record_echo
from shared.store.schema import conversation_ref, message_ref
from shared.whatsapp.parse import parse_delivery
from tests.support.cloud import PROJECT, REPLY_TOPIC
from tests.support.seed import PHONE_NUMBER_ID, store_inbound

pytestmark = pytest.mark.emulators

CUSTOMER = "15557651111"
CONV = f"{PHONE_NUMBER_ID}_{CUSTOMER}"


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
    yield {"simulator": simulator.state, "db": firestore_db, "env": env, "topics": topics}
    simulator.stop()
    model.stop()


def run(services: dict, job: Job) -> None:
    settings = Settings.from_env(services["env"])
    received = ReceivedJob(
        job, f"pubsub-{job.message_id or job.reason}-{time.monotonic_ns()}", datetime.now(UTC)
    )
    handle_reply_job(received, settings, Clients(settings, firestore=services["db"]))


def customer_says(services: dict, text: str) -> str:
    conv, wamid = store_inbound(services["db"], wa_id=CUSTOMER, text=text, job_topic=REPLY_TOPIC)
    run(services, Job(conv, wamid))
    return wamid


def owner_writes_from_the_app(services: dict, text: str, pause_minutes: float) -> None:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001234", "phone_number_id": PHONE_NUMBER_ID},
        "message_echoes": [
            {
                "from": "15550001234",
                "to": CUSTOMER,
                "id": f"wamid.echo-{time.monotonic_ns()}",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "smb_message_echoes", "value": value}]}],
    }
    (change,) = parse_delivery(json.dumps(body).encode()).message_changes
    assert record_echo(
        services["db"], PHONE_NUMBER_ID, change.echoes[0], pause_minutes=pause_minutes, retention_days=30
    )


def sent_texts(services: dict) -> list[str]:
    return [m["text"] for m in services["simulator"].outbox()]


def test_an_echo_pauses_the_assistant_which_resumes_after_the_pause_and_answers_once(services) -> None:
    customer_says(services, "do you have oat milk?")
    assert len(sent_texts(services)) == 1  # the assistant answered

    owner_writes_from_the_app(services, "Sam here, yes we do!", pause_minutes=0.03)  # 1.8 s
    waiting = customer_says(services, "great, and soy?")
    assert len(sent_texts(services)) == 1  # the owner is talking: the assistant stays quiet
    assert message_ref(services["db"], CONV, waiting).get().get("status") == "ready"

    run(services, sweep_job())  # too early: nothing is due
    assert services["topics"].pull(REPLY_TOPIC, wait=0.2) == []

    time.sleep(2.0)  # the pause runs out with no other human message
    run(services, sweep_job())
    (resume,) = services["topics"].pull(REPLY_TOPIC, expect=1)
    assert (resume["conversation_id"], resume["reason"]) == (CONV, "resume")
    run(services, Job(CONV, reason="resume"))
    texts = sent_texts(services)
    assert len(texts) == 2 and "great, and soy?" in texts[1]
    assert message_ref(services["db"], CONV, waiting).get().get("status") == "answered"
    assert "resume_at" not in (conversation_ref(services["db"], CONV).get().to_dict() or {})

    run(services, sweep_job())  # resumed once: a later sweep starts nothing
    assert services["topics"].pull(REPLY_TOPIC, wait=0.2) == []


def test_another_human_message_moves_the_pause_on(services) -> None:
    customer_says(services, "hello")
    owner_writes_from_the_app(services, "one moment", pause_minutes=0.03)
    customer_says(services, "ok")
    time.sleep(1.0)
    owner_writes_from_the_app(services, "still checking", pause_minutes=0.03)
    time.sleep(1.2)  # past the first pause, not the second
    run(services, sweep_job())
    assert services["topics"].pull(REPLY_TOPIC, wait=0.2) == []
    assert len(sent_texts(services)) == 1
