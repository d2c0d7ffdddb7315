"""Running the webhook function and posting to it the way Meta does."""

from __future__ import annotations

from datetime import datetime

import requests

from local.emulators import ManagedProcess, free_port, start_function
from shared.whatsapp.signature import sign
from tests.support.cloud import APP_SECRET, ARTIFACTS, Emulators, Topics, base_env


class WebhookClient:
    """Posts to a running webhook the way Meta does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def post(
        self, body: bytes, *, signature: str | None = "valid", path: str = "/webhook/whatsapp"
    ) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["X-Hub-Signature-256"] = sign(APP_SECRET, body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return requests.post(self.url + path, data=body, headers=headers, timeout=30)

    def get(self, path: str = "/webhook/whatsapp", **params: str) -> requests.Response:
        return requests.get(self.url + path, params=params, timeout=10)


def run_webhook(emus: Emulators, **env: str) -> ManagedProcess:
    return start_function("webhook", free_port(), base_env(emus, **env), ARTIFACTS / "logs")


def receive_jobs(
    db, topics: Topics, name: str, *, expect: int | None = None, wait: float = 2.0
) -> list[dict]:
    """Take the jobs waiting on topic `name` and receive each one as the media and reply functions
    do first (`record_job_arrival`): that is when a message joins its conversation's summary and
    the counters, and when a repeat delivery of its webhook learns the job is out."""
    from shared.store.inbound import record_job_arrival

    jobs = topics.pull(name, expect=expect, wait=wait)
    for job in jobs:
        record_job_arrival(
            db,
            job["conversation_id"],
            job["message_id"],
            published_at=datetime.fromisoformat(job["published_at"]),
        )
    return jobs
