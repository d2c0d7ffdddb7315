"""No reply job ends unsettled: a lease left by a dead instance is waited out, not acknowledged;
attempts count before the work, so deliveries that never finish count; a job out of time fails
its attempt in time; a reply out of attempts, or a job lost for too long, fails its messages
with the conversation flagged.

The jobs run in this process against the emulators, the WhatsApp simulator and the offline
model; a delivery killed mid-work runs in a process of its own (tests/support/job_runner.py).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from local.offline_gemini import start_offline_gemini
from local.simulator import graph_api_url, start_simulator
from shared.ai_reply.job import handle_reply_job
from shared.bus import Job, ReceivedJob, Redeliver
from shared.clients import Clients
from shared.config import Settings
from shared.store import replies
from shared.store.schema import conversation_ref, message_ref
from tests.support import job_runner
from tests.support.cloud import PROJECT, REPLY_TOPIC
from tests.support.query_log import child_env
from tests.support.seed import store_inbound

pytestmark = pytest.mark.emulators

CUSTOMER = "15557659999"


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
    yield {"simulator": simulator.state, "model": model.state, "db": firestore_db, "env": env}
    simulator.stop()
    model.stop()


def say(services: dict, text: str) -> tuple[str, str]:
    return store_inbound(services["db"], wa_id=CUSTOMER, text=text, job_topic=REPLY_TOPIC)


def deliver(
    services: dict, conv: str, wamid: str, *, pubsub_id: str = "", published=None, **env: str
) -> None:
    settings = Settings.from_env({**services["env"], **env})
    received = ReceivedJob(Job(conv, wamid), pubsub_id or f"pubsub-{wamid}", published or datetime.now(UTC))
    handle_reply_job(received, settings, Clients(settings, firestore=services["db"]))


def message(services: dict, conv: str, wamid: str) -> dict:
    return message_ref(services["db"], conv, wamid).get().to_dict()


def flagged(services: dict, conv: str) -> bool:
    data = conversation_ref(services["db"], conv).get().to_dict() or {}
    return bool(data.get("needs_attention") and data.get("has_failure"))


def sends(services: dict) -> list[dict]:
    return services["simulator"].events("send")


def test_a_lease_left_by_a_dead_instance_is_waited_out_and_then_answered_once(services) -> None:
    conv, first = say(services, "is anyone there?")
    until = datetime.now(UTC) + timedelta(seconds=2)
    conversation_ref(services["db"], conv).set(
        {"reply_lease": {"holder": "died-mid-reply", "until": until}}, merge=True
    )

    with pytest.raises(Redeliver) as raised:  # not acknowledged: Pub/Sub delivers it again
        deliver(services, conv, first)
    assert raised.value.code == 409  # a 4xx: not counted as the function failing
    _, second = say(services, "hello?")
    deliver(services, conv, second)  # the first job watches the lease: this one is acknowledged
    with pytest.raises(Redeliver):
        deliver(services, conv, first)  # still held by nobody alive, still not run out
    assert sends(services) == []

    time.sleep(max((until - datetime.now(UTC)).total_seconds(), 0) + 0.2)
    deliver(services, conv, first)
    (reply,) = services["simulator"].outbox()
    assert "hello?" in reply["text"]  # one reply answering both messages
    assert message(services, conv, first)["status"] == message(services, conv, second)["status"] == "answered"
    deliver(services, conv, first)
    assert len(services["simulator"].outbox()) == 1


def test_a_reply_killed_mid_work_counts_its_attempt_and_ends_failed_and_flagged_after_its_attempts(
    services,
) -> None:
    conv, wamid = say(services, "please answer")
    services["model"].add_faults([{"delay_seconds": 60}])
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "WHATSAPP"))},
        **services["env"],
        "REPLY_LEASE_SECONDS": "2",
        **child_env(),
    }
    process = job_runner.start("reply", conv, wamid, env)
    try:
        records = []

        def counted() -> bool:
            records[:] = [
                s.to_dict()
                for s in conversation_ref(services["db"], conv).collection("ai_responses").stream()
            ]
            # Counted, and the model is thinking (it is held for 60 s), however loaded the machine:
            # the model has the request.
            return (
                bool(records)
                and records[0].get("attempts") == 1
                and records[0].get("state") == "generating"
                and len(services["model"].requests()) == 1
            )

        deadline = time.monotonic() + 30
        while not counted():
            assert time.monotonic() < deadline, "the attempt was never counted with the model thinking"
            time.sleep(0.05)
        assert process.poll() is None
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    assert records[0]["state"] == "generating"
    lease = conversation_ref(services["db"], conv).get().get("reply_lease")
    assert lease["holder"]  # left behind by the killed instance

    time.sleep(2.2)  # its lease runs out
    deliver(services, conv, wamid, REPLY_MAX_JOB_ATTEMPTS="1")

    failed = message(services, conv, wamid)
    assert (failed["status"], failed["error"]["code"]) == ("failed", "attempts_exhausted")
    assert "stopped before it finished" in failed["error"]["detail"]
    assert flagged(services, conv)
    (record,) = [
        s.to_dict() for s in conversation_ref(services["db"], conv).collection("ai_responses").stream()
    ]
    assert (record["state"], record["attempts"]) == ("failed", 2)
    assert sends(services) == []
    assert len(services["model"].requests()) == 1  # only the killed attempt asked the model


def test_a_reply_whose_attempts_were_all_counted_is_failed_without_asking_the_model(services) -> None:
    conv, wamid = say(services, "hi")
    burst = [{"id": wamid}]
    record = replies.open_reply(services["db"], conv, burst, retention_days=30)
    record.ref.update({"attempts": Settings().reply_max_job_attempts})
    deliver(services, conv, wamid)
    assert message(services, conv, wamid)["status"] == "failed"
    assert flagged(services, conv)
    assert services["model"].requests() == [] and sends(services) == []


def test_a_reply_job_out_of_time_fails_its_attempt_in_time_and_is_retried(services) -> None:
    conv, wamid = say(services, "slow model today")
    services["model"].add_faults([{"delay_seconds": 20}])
    started = time.monotonic()
    with pytest.raises(Exception, match="did not answer within"):
        # 17 s of function timeout: 2 s of deadline once the margin is kept for the outcome.
        deliver(services, conv, wamid, REPLY_JOB_TIMEOUT_SECONDS="17")
    assert time.monotonic() - started < 6
    (record,) = [
        s.to_dict() for s in conversation_ref(services["db"], conv).collection("ai_responses").stream()
    ]
    assert (record["state"], record["attempts"]) == ("generating", 1)
    assert "did not answer" in record["error"]["title"]
    assert message(services, conv, wamid)["status"] == "ready"  # the next delivery tries again
    assert conversation_ref(services["db"], conv).get().get("reply_lease") is None  # and may at once


def test_a_too_old_reply_job_fails_its_message_with_the_conversation_flagged(services) -> None:
    conv, wamid = say(services, "are you open?")
    deliver(services, conv, wamid, published=datetime.now(UTC) - timedelta(hours=4))
    failed = message(services, conv, wamid)
    assert (failed["status"], failed["error"]["code"]) == ("failed", "too_old")
    assert flagged(services, conv)
    assert services["model"].requests() == [] and sends(services) == []
