"""The test session's own cloud: emulators on free ports, the names every test shares, and a
reader of the jobs the functions publish."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from local.emulators import ManagedProcess, free_port, start_firestore, start_pubsub, wait_http

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
PROJECT = "demo-test"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
MEDIA_TOPIC = "whatsapp-media"
REPLY_TOPIC = "whatsapp-reply"
MEDIA_BUCKET = "test-media"


@dataclass
class Emulators:
    firestore: ManagedProcess
    pubsub: ManagedProcess

    @property
    def env(self) -> dict[str, str]:
        return {**self.firestore.env, **self.pubsub.env, "GOOGLE_CLOUD_PROJECT": PROJECT}


def start_emulators(log_dir: Path) -> Emulators:
    firestore = start_firestore(free_port(), log_dir)
    pubsub = start_pubsub(free_port(), PROJECT, log_dir)
    try:
        wait_http(firestore)
        wait_http(pubsub)
    except Exception:
        firestore.stop()
        pubsub.stop()
        raise
    return Emulators(firestore, pubsub)


def base_env(emus: Emulators | None, **extra: str) -> dict[str, str]:
    """Environment of a function process under test (which records its Firestore queries too).

    Without `emus`, the same minus the emulators: enough to import a function's main.py.
    """
    from tests.support.query_log import child_env  # the plugin, loaded by the root conftest

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "WHATSAPP", "GOOGLE_"))}
    env.update(emus.env if emus is not None else {"GOOGLE_CLOUD_PROJECT": PROJECT})
    env.update(
        {
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WEBHOOK_VERIFY_TOKEN": VERIFY_TOKEN,
            "MEDIA_TOPIC": MEDIA_TOPIC,
            "REPLY_TOPIC": REPLY_TOPIC,
            "LOG_LEVEL": "INFO",
            **child_env(),
        }
    )
    env.update(extra)
    return env


class Topics:
    """The media and reply topics, each with a pull subscription the test reads jobs from."""

    def __init__(self, project: str) -> None:
        from google.cloud import pubsub_v1

        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.project = project
        self.names = (MEDIA_TOPIC, REPLY_TOPIC)

    def topic(self, name: str) -> str:
        return self.publisher.topic_path(self.project, name)

    def subscription(self, name: str) -> str:
        return self.subscriber.subscription_path(self.project, f"test-{name}")

    def create(self) -> None:
        self.delete()
        for name in self.names:
            self.publisher.create_topic(request={"name": self.topic(name)})
            self.subscriber.create_subscription(
                request={"name": self.subscription(name), "topic": self.topic(name)}
            )

    def delete(self) -> None:
        from google.api_core import exceptions as gexc

        for name in self.names:
            for call, path in (
                (self.subscriber.delete_subscription, {"subscription": self.subscription(name)}),
                (self.publisher.delete_topic, {"topic": self.topic(name)}),
            ):
                with contextlib.suppress(gexc.NotFound):
                    call(request=path)

    def pull(self, name: str, *, expect: int | None = None, wait: float = 2.0) -> list[dict]:
        """Every job waiting on `name` (acknowledged), as decoded JSON with its attributes."""
        import json
        import time

        jobs: list[dict] = []
        deadline = time.monotonic() + wait
        while True:
            response = self.subscriber.pull(
                request={
                    "subscription": self.subscription(name),
                    "max_messages": 100,
                    "return_immediately": True,
                },
                timeout=5,
            )
            if response.received_messages:
                self.subscriber.acknowledge(
                    request={
                        "subscription": self.subscription(name),
                        "ack_ids": [m.ack_id for m in response.received_messages],
                    }
                )
            for received in response.received_messages:
                job = json.loads(received.message.data)
                job["_attributes"] = dict(received.message.attributes)
                jobs.append(job)
            if expect is not None and len(jobs) >= expect:
                # Linger briefly so an unexpected extra job is caught too.
                time.sleep(0.3)
                expect = None
                continue
            if time.monotonic() >= deadline:
                return jobs
            time.sleep(0.1)
