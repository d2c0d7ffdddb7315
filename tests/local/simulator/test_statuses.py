"""What the business sent is reported back by signed status webhooks, in order, or as failed."""

from __future__ import annotations

import time

import requests

from tests.support.simulator import PHONE_ID, USER, expected_signature, send_text, wait_until


def test_status_callbacks_arrive_signed_in_order(sim, receiver):
    wamid = send_text(sim).json()["messages"][0]["id"]

    statuses = wait_until(lambda: len(receiver.statuses()) >= 3 and receiver.statuses())

    assert [(s["id"], s["status"]) for s in statuses] == [
        (wamid, "sent"),
        (wamid, "delivered"),
        (wamid, "read"),
    ]
    assert all(s["recipient_id"] == USER and isinstance(s["timestamp"], str) for s in statuses)
    for headers, raw in receiver.calls:
        assert headers["X-Hub-Signature-256"] == expected_signature(raw)
    value = receiver.bodies()[0]["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == PHONE_ID
    assert "messages" not in value
    outbox = requests.get(f"{sim.url}/_sim/outbox", timeout=5).json()["messages"]
    assert outbox[0]["status"] == "read"


def test_auto_read_can_be_switched_off(sim, receiver):
    requests.post(f"{sim.url}/_sim/config", json={"auto_read": False}, timeout=5)
    send_text(sim)

    wait_until(lambda: len(receiver.statuses()) >= 2)
    time.sleep(0.1)

    assert [s["status"] for s in receiver.statuses()] == ["sent", "delivered"]


def test_delivery_fault_accepts_the_send_then_reports_a_failed_status(sim, receiver):
    requests.post(f"{sim.url}/_sim/faults", json={"target": "delivery", "code": 131026}, timeout=5)

    response = send_text(sim)

    assert response.status_code == 200
    failed = wait_until(lambda: receiver.statuses())
    assert failed[0]["status"] == "failed"
    assert failed[0]["id"] == response.json()["messages"][0]["id"]
    assert failed[0]["errors"][0]["code"] == 131026
    assert failed[0]["errors"][0]["title"] == "Message undeliverable"
