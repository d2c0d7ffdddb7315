"""Talking to a WhatsApp simulator under test, and a webhook endpoint that records what it posts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import requests
from flask import Flask, request

from local.servers import start_server
from local.simulator import graph_api_url

SECRET = "sim-test-secret"
TOKEN = "sim-test-token"
PHONE_ID = "100000000000001"
USER = "15551234567"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Receiver:
    """A tiny webhook endpoint: records raw bodies and headers, answers the queued statuses (then 200)."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.lock = threading.Lock()
        app = Flask("receiver")
        app.add_url_rule("/webhook", "webhook", self.handle, methods=["POST"])
        self.server = start_server(app, self)

    def handle(self):
        with self.lock:
            self.calls.append((dict(request.headers), request.get_data()))
            status = self.answers.pop(0) if self.answers else 200
        return ("ok", status)

    @property
    def url(self) -> str:
        return f"{self.server.url}/webhook"

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(body) for _, body in self.calls]

    def statuses(self) -> list[dict]:
        found = []
        for body in self.bodies():
            for entry in body["entry"]:
                for change in entry["changes"]:
                    found.extend(change["value"].get("statuses", []))
        return found


def wait_until(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def final_statuses(receiver) -> dict[str, dict]:
    return {s["id"]: s for s in receiver.statuses() if s["status"] in {"read", "failed"}}


def expected_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def send_text(sim, body: str = "Hello from the business", **extra) -> requests.Response:
    payload = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": f"+{USER}",
        "type": "text",
        "text": {"body": body, "preview_url": False},
        **extra,
    }
    return requests.post(f"{graph_api_url(sim)}/{PHONE_ID}/messages", json=payload, headers=AUTH, timeout=5)


def upload(sim, data: bytes, mime: str, filename: str = "file.bin") -> dict:
    response = requests.post(
        f"{sim.url}/_sim/media", files={"file": (filename, data, mime)}, data={"mime_type": mime}, timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()
