"""The control API and the chat page."""

from __future__ import annotations

import threading
import time

import requests

from tests.support.simulator import (
    send_text,
)


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
