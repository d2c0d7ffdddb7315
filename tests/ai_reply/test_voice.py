"""Each business number answers with its own voice: the name, instruction and fallback reply an
operator set for it, the environment's where it set none; replies leave from the number written to.

The jobs run in this process against the emulators, the WhatsApp simulator and the offline model.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from local.offline_gemini import start_offline_gemini
from local.simulator import graph_api_url, start_simulator
from shared.ai_reply.instruction import ANSWER_RULES
from shared.ai_reply.job import handle_reply_job
from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.store import business_numbers
from tests.support.cloud import PROJECT, REPLY_TOPIC
from tests.support.seed import store_inbound

pytestmark = pytest.mark.emulators

CUSTOMER = "15557650001"
SALES = "100000000000201"
SUPPORT = "100000000000202"


@pytest.fixture
def services(emulators, firestore_db, topics) -> Iterator[dict]:
    simulator = start_simulator(
        access_token="token",
        webhook_url="http://127.0.0.1:9/unused",
        status_delay_seconds=0,
        phone_number_id=SALES,
        extra_phone_number_ids=(SUPPORT,),
    )
    model = start_offline_gemini()
    env = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "WHATSAPP_API_URL": graph_api_url(simulator),
        "WHATSAPP_API_TOKEN": "token",
        "GEMINI_BASE_URL": model.url,
        "MEDIA_BUCKET": "unused",
        "REPLY_TOPIC": REPLY_TOPIC,
        "SYSTEM_INSTRUCTION": "The deployment's own instruction.",
        "FALLBACK_REPLY": "The deployment's fallback.",
    }
    yield {"simulator": simulator.state, "model": model.state, "db": firestore_db, "env": env}
    simulator.stop()
    model.stop()


def ask(services: dict, number: str, text: str) -> None:
    conv, wamid = store_inbound(
        services["db"], wa_id=CUSTOMER, text=text, job_topic=REPLY_TOPIC, phone_number_id=number
    )
    settings = Settings.from_env(services["env"])
    received = ReceivedJob(Job(conv, wamid), f"pubsub-{wamid}", datetime.now(UTC))
    handle_reply_job(received, settings, Clients(settings, firestore=services["db"]))


def system_instructions(services: dict) -> list[str]:
    return [
        "".join(p["text"] for p in r["body"]["systemInstruction"]["parts"])
        for r in services["model"].requests()
    ]


def test_one_customer_writing_to_two_numbers_gets_each_numbers_voice_from_that_number(services) -> None:
    db = services["db"]
    business_numbers.save(
        db, SALES, {"business_name": "Acme Sales", "system_instruction": "Sell."}, operator="ops"
    )
    ask(services, SALES, "price of the blue one?")
    ask(services, SUPPORT, "my order is late")

    sales, support = system_instructions(services)
    assert sales == f"You answer on behalf of Acme Sales.\n\nSell.\n\n{ANSWER_RULES}"
    assert support == f"The deployment's own instruction.\n\n{ANSWER_RULES}"  # a number nobody configured
    sent = services["simulator"].outbox()
    assert [s["phone_number_id"] for s in sent] == [SALES, SUPPORT]
    assert all(s["wa_id"] == CUSTOMER for s in sent)
    # The number that answered is now listed on the Settings page.
    listed = business_numbers.list_numbers(db, business_numbers.Defaults())
    assert {n.phone_number_id for n in listed} == {SALES, SUPPORT}


def test_the_fallback_reply_is_the_numbers_own(services) -> None:
    business_numbers.save(services["db"], SUPPORT, {"fallback_reply": "Support will call you."}, operator="o")
    services["model"].add_faults([{"empty": True}])
    ask(services, SUPPORT, "hello?")
    (sent,) = services["simulator"].outbox()
    assert sent["text"] == "Support will call you."


def test_the_scoped_default_names_the_numbers_business(services) -> None:
    services["env"].pop("SYSTEM_INSTRUCTION")
    business_numbers.save(services["db"], SALES, {"business_name": "Pastelaria Lisboa"}, operator="ops")
    ask(services, SALES, "hello")

    (instruction,) = system_instructions(services)
    assert instruction.startswith("You are the WhatsApp assistant of Pastelaria Lisboa.")
    assert "Only help with Pastelaria Lisboa" in instruction and "{business}" not in instruction


def test_the_handoff_message_is_the_numbers_own(services) -> None:
    business_numbers.save(
        services["db"], SUPPORT, {"handoff_message": "Um colega responde já."}, operator="ops"
    )
    ask(services, SUPPORT, "I want to talk to a person")

    (sent,) = services["simulator"].outbox()
    assert sent["text"] == "Um colega responde já."
