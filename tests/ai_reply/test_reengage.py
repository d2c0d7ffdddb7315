"""An answer due in a closed window: the re-engagement template goes out once per silence (known
before sending, or learned from 131047), and without one the conversation is flagged."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.store.schema import conversation_id
from shared.store.templates import sync_templates
from shared.whatsapp.templates import Template
from tests.support.cloud import PROJECT

PHONE_NUMBER_ID = "100000000000001"
CUSTOMER = "15557650000"
CONV = conversation_id(PHONE_NUMBER_ID, CUSTOMER)
FOLLOW_UP = {
    "name": "follow_up",
    "language": "en_US",
    "category": "UTILITY",
    "components": [{"type": "BODY", "text": "Hi {{1}}, we have an answer for you. Reply to read it."}],
}


@pytest.fixture
def services(emulators, firestore_db) -> Iterator[dict]:
    from local.offline_gemini import start_offline_gemini
    from local.simulator import DEFAULT_WABA_ID, graph_api_url, start_simulator

    simulator = start_simulator(
        access_token="token",
        webhook_url="http://127.0.0.1:9/unused",
        status_delay_seconds=0,
        enforce_service_window=True,
    )
    model = start_offline_gemini()
    created = simulator.state.add_template(FOLLOW_UP)
    sync_templates(firestore_db, DEFAULT_WABA_ID, [Template.from_graph(created)])
    settings = Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "WHATSAPP_API_URL": graph_api_url(simulator),
            "WHATSAPP_API_TOKEN": "token",
            "GEMINI_BASE_URL": model.url,
            "MEDIA_BUCKET": "unused",
            "REENGAGE_TEMPLATE": "follow_up:en_US",
        }
    )
    yield {"simulator": simulator.state, "model": model.state, "db": firestore_db, "settings": settings}
    simulator.stop()
    model.stop()


def seed(db, wamid: str, *, hours_ago: float) -> None:
    now = datetime.now(UTC)
    conv = db.collection("conversations").document(CONV)
    conv.set(
        {
            "wa_id": CUSTOMER,
            "phone_number_id": PHONE_NUMBER_ID,
            "display_name": "Gil Moreau",
            "last_message_at": now,
            "last_inbound_at": now - timedelta(hours=hours_ago),
            "awaiting_reply": True,
        },
        merge=True,
    )
    message = {
        "wamid": wamid,
        "direction": "inbound",
        "type": "text",
        "text": "still there?",
        "status": "ready",
        "created_at": now,
    }
    conv.collection("messages").document(wamid).set(message)


def run(services: dict, settings: Settings | None = None, reason: str = "inbound") -> None:
    from shared.ai_reply.job import handle_reply_job

    settings = settings or services["settings"]
    received = ReceivedJob(Job(CONV, "", reason), "1", datetime.now(UTC))
    handle_reply_job(received, settings, Clients(settings, firestore=services["db"]))


def conversation(db) -> dict:
    return db.collection("conversations").document(CONV).get().to_dict() or {}


def test_a_window_known_closed_sends_the_template_once_without_asking_the_model(services) -> None:
    db, simulator = services["db"], services["simulator"]
    seed(db, "wamid.R1", hours_ago=30)

    run(services)
    db.collection("conversations").document(CONV).collection("messages").document("wamid.R1").update(
        {"status": "ready", "retry_count": 1}
    )
    run(services)  # an operator's retry of the same waiting message: no second template
    run(services, reason="reengage")  # and a failed status for it: none either

    (sent,) = simulator.outbox()
    assert (
        sent["type"] == "template" and sent["text"] == "Hi Gil, we have an answer for you. Reply to read it."
    )
    assert services["model"].requests() == []
    assert conversation(db)["needs_attention"] is True
    message = (
        db.collection("conversations")
        .document(CONV)
        .collection("messages")
        .document("wamid.R1")
        .get()
        .to_dict()
    )
    assert message["status"] == "failed" and message["error"]["code"] == 131047


def test_131047_from_whatsapp_sends_the_template_once(services) -> None:
    db, simulator = services["db"], services["simulator"]
    seed(db, "wamid.R2", hours_ago=1)  # our record says open; Meta's clock says otherwise

    run(services)

    (sent,) = simulator.outbox()
    assert sent["type"] == "template"
    refused = [e for e in simulator.events("send") if e["status"] == 400]
    assert [e["error"]["error"]["code"] for e in refused] == [131047]
    outbound = [
        m.to_dict()
        for m in db.collection("conversations").document(CONV).collection("messages").stream()
        if m.to_dict().get("direction") == "outbound"
    ]
    assert sorted(m["type"] for m in outbound) == ["template", "text"]  # the refused answer and the template
    assert next(m for m in outbound if m["type"] == "template")["template"]["reengagement"] is True


def test_a_new_message_after_the_template_opens_a_new_silence(services) -> None:
    db, simulator = services["db"], services["simulator"]
    seed(db, "wamid.R3", hours_ago=30)
    run(services)
    seed(db, "wamid.R4", hours_ago=26)  # the customer wrote again, and went quiet again

    run(services)

    assert [m["type"] for m in simulator.outbox()] == ["template", "template"]


def test_without_a_template_the_conversation_is_flagged_and_nothing_is_sent(services) -> None:
    db, simulator = services["db"], services["simulator"]
    seed(db, "wamid.R5", hours_ago=30)

    run(services, dataclasses.replace(services["settings"], reengage_template=""))

    assert simulator.outbox() == []
    assert conversation(db)["needs_attention"] is True and conversation(db)["window_closed_waiting"] is True
