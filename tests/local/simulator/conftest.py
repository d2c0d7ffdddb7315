"""A simulator posting its webhooks to a recording receiver, fresh for every test."""

from __future__ import annotations

import pytest

from local.simulator import start_simulator
from tests.support.simulator import SECRET, TOKEN, Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def sim(receiver):
    running = start_simulator(
        webhook_url=receiver.url,
        app_secret=SECRET,
        access_token=TOKEN,
        status_delay_seconds=0.02,
        webhook_retry_delays=(0.0, 0.05),
    )
    yield running
    running.stop()
