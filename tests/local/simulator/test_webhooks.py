"""Webhook delivery: retried until accepted, redelivered byte for byte, raw bodies on demand."""

from __future__ import annotations

import requests

from tests.support.simulator import USER, wait_until


def test_webhook_rejection_is_retried_until_accepted(sim, receiver):
    receiver.answers = [500, 503]

    result = requests.post(
        f"{sim.url}/_sim/inbound", json={"from": USER, "text": "retry me"}, timeout=5
    ).json()

    assert result["webhook_status"] == 500
    wait_until(lambda: len(receiver.calls) == 3)
    assert len({body for _, body in receiver.calls}) == 1  # the same bytes every time
    deliveries = requests.get(f"{sim.url}/_sim/deliveries", timeout=5).json()["deliveries"]
    assert [(d["attempt"], d["status"]) for d in deliveries] == [(1, 500), (2, 503), (3, 200)]


def test_raw_delivery_can_carry_a_bad_signature(sim, receiver):
    result = requests.post(
        f"{sim.url}/_sim/deliver-raw", json={"body": "{not json", "signature": "sha256=deadbeef"}, timeout=5
    ).json()

    assert result["webhook_status"] == 200
    headers, raw = receiver.calls[0]
    assert raw == b"{not json"
    assert headers["X-Hub-Signature-256"] == "sha256=deadbeef"


def test_redelivery_posts_the_identical_bytes_again(sim, receiver):
    wamid = requests.post(f"{sim.url}/_sim/inbound", json={"text": "once"}, timeout=5).json()["wamid"]

    again = requests.post(f"{sim.url}/_sim/redeliver", json={"wamid": wamid}, timeout=5).json()

    assert again["webhook_status"] == 200
    assert receiver.calls[0][1] == receiver.calls[1][1]
