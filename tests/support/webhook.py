"""Running the webhook function and posting to it the way Meta does."""

from __future__ import annotations

from datetime import datetime

import requests

from local.emulators import ManagedProcess, free_port, start_function
from shared.whatsapp.signature import sign
from shared.whatsapp.waha import signature as waha_signature
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

    def post_waha(self, body: bytes, *, key: str | None = None, hmac: str | None = None) -> requests.Response:
        """Post as a WAHA server does: signed with `key` when given (or with `hmac` as is)."""
        headers = {"Content-Type": "application/json", "X-Webhook-Request-Id": "req-test"}
        if key is not None:
            hmac = waha_signature.sign(key, body)
        if hmac is not None:
            headers[waha_signature.HEADER] = hmac
            headers[waha_signature.ALGORITHM_HEADER] = waha_signature.ALGORITHM
        return requests.post(self.url + "/webhook/waha", data=body, headers=headers, timeout=30)

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
