"""The control API and the chat page."""

from __future__ import annotations

import threading
import time

import requests

from tests.support.simulator import USER, send_text, upload, wait_until


def test_chat_page_is_served_with_its_assets(sim):
    page = requests.get(f"{sim.url}/", timeout=5)

    assert page.status_code == 200
    assert 'dir="auto"' in page.text
    assert requests.get(f"{sim.url}/_sim/static/chat.js", timeout=5).status_code == 200


def test_outbox_long_poll_returns_once_the_reply_is_sent(sim):
    threading.Timer(0.2, send_text, args=(sim, "late reply")).start()

    started = time.monotonic()
    messages = requests.get(
        f"{sim.url}/_sim/outbox", params={"wait_count": 1, "timeout": 5}, timeout=10
    ).json()

    assert [m["text"] for m in messages["messages"]] == ["late reply"]
    assert time.monotonic() - started < 3


def test_a_reset_forgets_every_record_and_cancels_the_pending_status_webhooks(sim, receiver):
    requests.post(f"{sim.url}/_sim/config", json={"status_delay_seconds": 0.3}, timeout=5)
    media = upload(sim, b"%PDF-1.4", "application/pdf", "doc.pdf")
    wamid = requests.post(f"{sim.url}/_sim/inbound", json={"from": USER, "text": "hi"}, timeout=5).json()[
        "wamid"
    ]
    send_text(sim)
    requests.post(f"{sim.url}/_sim/faults", json={"target": "send", "code": 131047}, timeout=5)

    requests.post(f"{sim.url}/_sim/reset", timeout=5)
    time.sleep(0.5)

    assert len(receiver.calls) == 1  # the inbound message; no status webhook after the reset
    for path, key in [("outbox", "messages"), ("inbox", "messages"), ("events", "events")]:
        assert requests.get(f"{sim.url}/_sim/{path}", timeout=5).json()[key] == []
    assert requests.get(f"{sim.url}/_sim/deliveries", timeout=5).json()["deliveries"] == []
    assert requests.get(f"{sim.url}/_sim/faults", timeout=5).json()["faults"] == []
    assert requests.get(f"{sim.url}/_sim/media/{media['id']}", timeout=5).status_code == 404
    assert requests.post(f"{sim.url}/_sim/redeliver", json={"wamid": wamid}, timeout=5).status_code == 400
    after = send_text(sim).json()["messages"][0]["id"]  # what is sent after a reset is reported again
    wait_until(lambda: [(s["id"], s["status"]) for s in receiver.statuses()][-1:] == [(after, "read")])
    assert [s["id"] for s in receiver.statuses()] == [after] * 3
