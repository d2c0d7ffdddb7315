"""A reply job run in the test process against the emulators, the WhatsApp simulator and the
offline model, with one customer's ready message: for tests that leave Firestore as a crashed
instance would and run the job again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.store.schema import conversation_id
from tests.support.cloud import PROJECT

PHONE_NUMBER_ID = "100000000000001"
CUSTOMER = "15557654321"
CONV = conversation_id(PHONE_NUMBER_ID, CUSTOMER)


def reply_services(firestore_db) -> Iterator[dict]:
    """The reply function's parts in this process: the simulator, the offline model, settings and clients."""
    from local.offline_gemini import start_offline_gemini
    from local.simulator import graph_api_url, start_simulator

    simulator = start_simulator(
        access_token="token", webhook_url="http://127.0.0.1:9/unused", status_delay_seconds=0
    )
    model = start_offline_gemini()
    settings = Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "WHATSAPP_API_URL": graph_api_url(simulator),
            "WHATSAPP_API_TOKEN": "token",
            "GEMINI_BASE_URL": model.url,
            "MEDIA_BUCKET": "unused",
        }
    )
    yield {
        "simulator": simulator.state,
        "model": model.state,
        "db": firestore_db,
        "settings": settings,
        "clients": Clients(settings, firestore=firestore_db),
    }
    simulator.stop()
    model.stop()


def seed_ready_message(db, wamid: str = "wamid.IN1", text: str = "where is my order?") -> dict:
    now = datetime.now(UTC)
    conv = db.collection("conversations").document(CONV)
    conv.set(
        {
            "wa_id": CUSTOMER,
            "phone_number_id": PHONE_NUMBER_ID,
            "last_message_at": now,
            "last_inbound_at": now,
        }
    )
    message = {
        "wamid": wamid,
        "direction": "inbound",
        "type": "text",
        "text": text,
        "status": "ready",
        "created_at": now,
    }
    conv.collection("messages").document(wamid).set(message)
    return {**message, "id": wamid}


def run_job(services: dict) -> None:
    from shared.ai_reply.job import handle_reply_job

    received = ReceivedJob(Job(CONV, "wamid.IN1"), "1", datetime.now(UTC))
    handle_reply_job(received, services["settings"], services["clients"])
