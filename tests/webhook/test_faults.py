"""The webhook when Firestore or Pub/Sub fails: 503, nothing lost, and the redelivery completes it once.

These tests stop and restart emulators, so they run on a pair of their own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import firestore

from local.emulators import start_pubsub, wait_http
from tests.support.cloud import ARTIFACTS, PROJECT, REPLY_TOPIC, Emulators, Topics, start_emulators
from tests.support.payloads import FIXTURE_CONVERSATION, load
from tests.support.webhook import WebhookClient, receive_jobs, run_webhook


@pytest.fixture(scope="module")
def own_emulators() -> Iterator[Emulators]:
    emus = start_emulators(ARTIFACTS / "logs" / "faults")
    yield emus
    emus.firestore.stop()
    emus.pubsub.stop()


@pytest.fixture
def env_of(own_emulators: Emulators, monkeypatch: pytest.MonkeyPatch) -> Emulators:
    for key, value in own_emulators.env.items():
        monkeypatch.setenv(key, value)
    return own_emulators


@pytest.fixture
def stack(env_of: Emulators) -> Iterator[tuple[WebhookClient, firestore.Client, Topics]]:
    from local.emulators import reset_firestore

    if not env_of.pubsub.running():
        restart_pubsub(env_of)
    reset_firestore(env_of.firestore.host_port, PROJECT)
    topics = Topics(PROJECT)
    topics.create()
    proc = run_webhook(env_of)
    yield WebhookClient(proc.url), firestore.Client(project=PROJECT), topics
    proc.stop()


def restart_pubsub(emus: Emulators) -> None:
    port = int(emus.pubsub.host_port.rsplit(":", 1)[1])
    emus.pubsub = start_pubsub(port, PROJECT, ARTIFACTS / "logs" / "faults")
    wait_http(emus.pubsub)


def stored(db: firestore.Client) -> dict[str, dict]:
    ref = db.collection("conversations").document(FIXTURE_CONVERSATION).collection("messages")
    return {d.id: d.to_dict() for d in ref.stream()}


def redeliver_until_accepted(webhook: WebhookClient, body: bytes, within: float = 60.0) -> int:
    deadline = time.monotonic() + within
    while (status := webhook.post(body).status_code) == 503 and time.monotonic() < deadline:
        time.sleep(2)
    return status


def test_a_missing_topic_gives_503_and_the_redelivery_publishes_once(stack) -> None:
    webhook, db, topics = stack
    topics.delete()
    body = load("text")
    assert webhook.post(body).status_code == 503
    (doc,) = stored(db).values()
    assert doc["job"]["state"] == "pending"  # stored, with its job still owed

    topics.create()
    assert webhook.post(body).status_code == 200
    assert len(receive_jobs(db, topics, REPLY_TOPIC, expect=1)) == 1
    assert webhook.post(body).status_code == 200
    assert topics.pull(REPLY_TOPIC, wait=1) == []
    assert db.collection("conversations").document(FIXTURE_CONVERSATION).get().get("message_count") == 1


def test_pubsub_down_gives_503_and_the_redelivery_publishes_once(stack, env_of) -> None:
    webhook, db, topics = stack
    env_of.pubsub.stop()
    body = load("text")
    assert webhook.post(body).status_code == 503
    assert next(iter(stored(db).values()))["job"]["state"] == "pending"

    restart_pubsub(env_of)  # the in-memory emulator comes back empty
    topics = Topics(PROJECT)
    topics.create()
    # Meta redelivers until it gets a 200; the instance's channel may take a few seconds to
    # reconnect to the restarted emulator (gRPC's reconnect backoff), more on a loaded machine.
    assert redeliver_until_accepted(webhook, body) == 200
    assert len(topics.pull(REPLY_TOPIC, expect=1)) == 1
    assert webhook.post(body).status_code == 200
    assert topics.pull(REPLY_TOPIC, wait=1) == []


def test_an_instance_that_died_between_storing_and_publishing_loses_nothing(stack) -> None:
    from shared.store.inbound import record_inbound
    from shared.whatsapp.parse import parse_delivery

    webhook, db, topics = stack
    body = load("text")
    value = parse_delivery(body).message_changes[0]
    # The first delivery's write, as the webhook makes it; then the instance is gone.
    record_inbound(db, value, value.messages[0], job_topic=REPLY_TOPIC, retention_days=30)
    assert webhook.post(body).status_code == 503  # its claim still runs: it might be publishing
    assert topics.pull(REPLY_TOPIC, wait=0.5) == []

    (wamid,) = stored(db)
    ref = db.collection("conversations").document(FIXTURE_CONVERSATION).collection("messages").document(wamid)
    ref.update({"job.claimed_until": datetime.now(UTC) - timedelta(seconds=1)})  # 30 seconds later
    assert webhook.post(body).status_code == 200
    assert ref.get().get("job")["state"] == "published"  # the repeat saw Pub/Sub accept it
    assert len(receive_jobs(db, topics, REPLY_TOPIC, expect=1)) == 1
    assert webhook.post(body).status_code == 200
    assert topics.pull(REPLY_TOPIC, wait=1) == []
    assert db.collection("conversations").document(FIXTURE_CONVERSATION).get().get("message_count") == 1


def test_firestore_down_gives_503(stack, env_of) -> None:
    webhook, _db, topics = stack
    env_of.firestore.stop()
    try:
        assert webhook.post(load("text")).status_code == 503
        assert topics.pull(REPLY_TOPIC, wait=0.5) == []
    finally:
        from local.emulators import start_firestore

        port = int(env_of.firestore.host_port.rsplit(":", 1)[1])
        env_of.firestore = start_firestore(port, ARTIFACTS / "logs" / "faults")
        wait_http(env_of.firestore)
        os.environ.update(env_of.env)
