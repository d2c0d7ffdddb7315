"""No media job ends unsettled: attempts are counted before the work, so deliveries that never
finish count too; a medium out of attempts, or a job lost for too long, is failed and flagged;
and a job out of time fails its attempt in time instead of running into the function's timeout.

A delivery killed mid-work runs in a process of its own (tests/support/job_runner.py), SIGKILLed
while its download hangs: what Cloud Run does at the function's timeout and the kernel at its
memory limit, with no exception and nothing written after.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from local.simulator import graph_api_url, start_simulator
from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.media.job import MAX_ATTEMPTS, handle_media_job
from shared.store.schema import conversation_ref, message_ref
from tests.support import job_runner, media_samples
from tests.support.cloud import MEDIA_BUCKET, MEDIA_TOPIC, PROJECT, REPLY_TOPIC
from tests.support.query_log import child_env
from tests.support.seed import store_inbound

pytestmark = pytest.mark.emulators

CUSTOMER = "15550008888"


@pytest.fixture
def services(emulators, storage_emulator, firestore_db, topics, monkeypatch) -> Iterator[dict]:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator.env["STORAGE_EMULATOR_HOST"])
    with start_simulator(access_token="token", webhook_url="http://127.0.0.1:9/unused") as simulator:
        env = {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "WHATSAPP_API_URL": graph_api_url(simulator),
            "WHATSAPP_API_TOKEN": "token",
            "MEDIA_BUCKET": MEDIA_BUCKET,
            "MEDIA_TOPIC": MEDIA_TOPIC,
            "REPLY_TOPIC": REPLY_TOPIC,
        }
        settings = Settings.from_env(env)
        yield {
            "simulator": simulator.state,
            "db": firestore_db,
            "env": env,
            "settings": settings,
            "clients": Clients(settings, firestore=firestore_db),
            "topics": topics,
            "storage_env": storage_emulator.env,
        }


def a_photo(services: dict) -> tuple[str, str]:
    """A photo message as the webhook stores it: its job owed, its media not downloaded yet."""
    item = services["simulator"].store_media(media_samples.png(16, 16), "image/png")
    return store_inbound(
        services["db"],
        wa_id=CUSTOMER,
        kind="image",
        content={"id": item.id, "mime_type": "image/png"},
        job_topic=MEDIA_TOPIC,
    )


def deliver(services: dict, conv: str, wamid: str, *, published: datetime | None = None, **env: str) -> None:
    settings = Settings.from_env({**services["env"], **env}) if env else services["settings"]
    received = ReceivedJob(Job(conv, wamid), "pubsub-1", published or datetime.now(UTC))
    handle_media_job(received, settings, Clients(settings, firestore=services["db"]))


def media_of(services: dict, conv: str, wamid: str) -> dict:
    return message_ref(services["db"], conv, wamid).get().to_dict()["media"]


def wait_for(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def killed_mid_work(services: dict, conv: str, wamid: str, attempt: int) -> None:
    """One delivery in its own process, SIGKILLed once it has started (its attempt counted)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "WHATSAPP"))},
        **services["env"],
        **services["storage_env"],
        **child_env(),
    }
    process = job_runner.start("media", conv, wamid, env)
    try:
        wait_for(
            lambda: (media_of(services, conv, wamid).get("attempts") or 0) >= attempt,
            what=f"attempt {attempt} to be counted",
        )
        time.sleep(0.5)  # into the download, which hangs
        assert process.poll() is None, "the delivery ended on its own"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    assert process.returncode == -signal.SIGKILL


def test_a_media_job_killed_mid_work_on_every_delivery_ends_failed_and_flagged_after_its_attempts(
    services,
) -> None:
    conv, wamid = a_photo(services)
    services["simulator"].add_faults(
        [{"target": "media_download", "hang_seconds": 60, "count": MAX_ATTEMPTS}]
    )
    for attempt in range(1, MAX_ATTEMPTS + 1):
        killed_mid_work(services, conv, wamid, attempt)
    assert media_of(services, conv, wamid)["status"] == "pending"  # nobody could write anything else

    deliver(services, conv, wamid)  # the next delivery settles instead of trying again

    media = media_of(services, conv, wamid)
    assert (media["status"], media["failure_code"], media["attempts"]) == (
        "failed",
        "unfinished",
        MAX_ATTEMPTS + 1,
    )
    assert f"{MAX_ATTEMPTS} tries" in media["failure_reason"]
    conversation = conversation_ref(services["db"], conv).get().to_dict()
    assert conversation["needs_attention"] is True and conversation["has_failure"] is True
    # Still answered: the assistant tells the customer it could not open the photo.
    assert message_ref(services["db"], conv, wamid).get().get("status") == "ready"
    (reply_job,) = services["topics"].pull(REPLY_TOPIC, expect=1)
    assert (reply_job["message_id"], reply_job["reason"]) == (wamid, "media_ready")
    # The settling delivery did not download again.
    assert len(services["simulator"].events("media_download")) <= MAX_ATTEMPTS


def test_a_job_whose_attempts_were_all_counted_but_never_finished_is_settled_without_running(
    services,
) -> None:
    conv, wamid = a_photo(services)
    deliver(services, conv, wamid, MEDIA_JOB_TIMEOUT_SECONDS="300")  # a first, normal delivery
    assert media_of(services, conv, wamid)["status"] == "ready"
    conv, wamid = a_photo(services)
    message_ref(services["db"], conv, wamid).update({"media.attempts": MAX_ATTEMPTS})
    downloads = len(services["simulator"].events("media_download"))

    deliver(services, conv, wamid)

    media = media_of(services, conv, wamid)
    assert (media["status"], media["failure_code"]) == ("failed", "unfinished")
    assert len(services["simulator"].events("media_download")) == downloads
    assert conversation_ref(services["db"], conv).get().get("needs_attention") is True


def test_every_delivery_counts_its_attempt_before_the_work_starts(services) -> None:
    conv, wamid = a_photo(services)
    deliver(services, conv, wamid)
    media = media_of(services, conv, wamid)
    assert (media["status"], media["attempts"]) == ("ready", 1)
    assert media["attempt_started_at"] <= datetime.now(UTC)


def test_a_media_job_out_of_time_fails_its_attempt_in_time_and_is_retried(services) -> None:
    conv, wamid = a_photo(services)
    services["simulator"].add_faults([{"target": "media_download", "hang_seconds": 30}])
    started = time.monotonic()
    # 17 s of function timeout: 2 s of deadline once the margin for recording the outcome is kept.
    with pytest.raises(Exception) as raised:
        deliver(services, conv, wamid, MEDIA_JOB_TIMEOUT_SECONDS="17")
    took = time.monotonic() - started
    assert took < 6, f"the download was not held to the job's deadline ({took:.1f} s)"
    media = media_of(services, conv, wamid)
    assert (media["status"], media["attempts"]) == ("pending", 1)  # a failed attempt, counted
    assert media["last_error"] and type(raised.value).__name__ in media["last_error"]


def test_a_too_old_media_job_fails_its_message_flagged_without_downloading(services) -> None:
    conv, wamid = a_photo(services)
    deliver(services, conv, wamid, published=datetime.now(UTC) - timedelta(hours=4))
    message = message_ref(services["db"], conv, wamid).get().to_dict()
    assert (message["status"], message["error"]["code"]) == ("failed", "too_old")
    assert message["media"]["status"] == "failed"
    assert services["simulator"].events("media_download") == []
    assert conversation_ref(services["db"], conv).get().get("needs_attention") is True
    assert services["topics"].pull(REPLY_TOPIC, wait=0.5) == []  # not answered hours late
