"""Running the webhook function and posting to it the way Meta does."""

from __future__ import annotations

import requests

from local.emulators import ManagedProcess, free_port, start_function
from shared.whatsapp.signature import sign
from tests.support.cloud import APP_SECRET, ARTIFACTS, Emulators, base_env


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
