"""A reply job goes round again for a message that arrived mid-reply only while a whole round
still fits in its time; otherwise it hands the conversation to a new job and returns in time.

The job runs in this process against the emulators, the WhatsApp simulator and the offline model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from local.offline_gemini import start_offline_gemini
from local.simulator import graph_api_url, start_simulator
from shared.ai_reply.job import handle_reply_job
from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.store import replies
from shared.store.schema import conversation_id
from tests.support.cloud import PROJECT, REPLY_TOPIC

pytestmark = pytest.mark.emulators

PHONE_NUMBER_ID = "100000000000001"
CUSTOMER = "15557650000"
CONV = conversation_id(PHONE_NUMBER_ID, CUSTOMER)


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
    yield {
        "simulator": simulator.state,
        "model": model.state,
        "db": firestore_db,
        "topics": topics,
        "env": env,
    }
    simulator.stop()
    model.stop()


def add_ready(db, wamid: str, text: str) -> None:
    conv = db.collection("conversations").document(CONV)
    conv.set({"wa_id": CUSTOMER, "phone_number_id": PHONE_NUMBER_ID}, merge=True)
    conv.collection("messages").document(wamid).set(
        {
            "wamid": wamid,
            "direction": "inbound",
            "type": "text",
            "text": text,
            "status": "ready",
            "created_at": datetime.now(UTC),
            "received_at": datetime.now(UTC),
        }
    )


def run_with_a_message_arriving_mid_reply(services: dict, **env: str) -> None:
    """The first answer takes a second; meanwhile a second message arrives and its job finds the
    lease taken (so it asks the holder to go round again, as a real second job does)."""
    db = services["db"]
    settings = Settings.from_env({**services["env"], **env})
    add_ready(db, "wamid.FIRST", "first")
    services["model"].add_faults([{"delay_seconds": 1.0}])

    def second_message() -> None:
        time.sleep(0.4)  # the model is still thinking about the first
        add_ready(db, "wamid.SECOND", "second")
        outcome, _ = replies.acquire_lease(db, CONV, "the-second-job", timedelta(seconds=60))
        assert outcome is replies.LeaseOutcome.BUSY

    meanwhile = threading.Thread(target=second_message)
    meanwhile.start()
    handle_reply_job(
        ReceivedJob(Job(CONV, "wamid.FIRST"), "1", datetime.now(UTC)),
        settings,
        Clients(settings, firestore=db),
    )
    meanwhile.join()


def status_of(db, wamid: str) -> str:
    return db.document(f"conversations/{CONV}/messages/{wamid}").get().get("status")


def test_with_time_for_another_round_the_job_answers_the_late_message_itself(services) -> None:
    run_with_a_message_arriving_mid_reply(services)
    db = services["db"]
    assert [m["text"].split('"')[1] for m in services["simulator"].outbox()] == ["first", "second"]
    assert services["topics"].pull(REPLY_TOPIC, wait=1.0) == []
    assert db.document(f"conversations/{CONV}").get().get("reply_lease") is None


def test_without_time_for_another_round_the_job_hands_the_conversation_to_a_new_job(services) -> None:
    # A round at worst takes far longer than this job may run, so it must not start another one.
    run_with_a_message_arriving_mid_reply(services, REPLY_JOB_TIMEOUT_SECONDS="60")
    db = services["db"]
    assert [m["text"].split('"')[1] for m in services["simulator"].outbox()] == ["first"]
    assert (status_of(db, "wamid.FIRST"), status_of(db, "wamid.SECOND")) == ("answered", "ready")
    conversation = db.document(f"conversations/{CONV}").get().to_dict()
    assert conversation["reply_lease"] is None  # free for the new job at once
    (handed,) = services["topics"].pull(REPLY_TOPIC, expect=1)
    assert (handed["conversation_id"], handed["reason"]) == (CONV, "follow_up")

    settings = Settings.from_env(services["env"])
    follow_up = ReceivedJob(Job(CONV, reason="follow_up"), "2", datetime.now(UTC))
    handle_reply_job(follow_up, settings, Clients(settings, firestore=db))
    assert status_of(db, "wamid.SECOND") == "answered"
    assert len(services["simulator"].outbox()) == 2
