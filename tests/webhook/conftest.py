from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.emulators import ManagedProcess
from tests.support.cloud import Emulators
from tests.support.webhook import WebhookClient, run_webhook


@pytest.fixture(scope="session")
def webhook_process(emulators: Emulators) -> Iterator[ManagedProcess]:
    proc = run_webhook(emulators)
    yield proc
    proc.stop()


@pytest.fixture
def webhook(webhook_process: ManagedProcess, firestore_db, topics) -> WebhookClient:
    return WebhookClient(webhook_process.url)


WAHA_KEY = "test-waha-hmac-key"
WAHA_ENV = {
    "WAHA_URL": "http://waha.local:3000",
    "WAHA_SESSION": "default",
    "WAHA_API_KEY": "test-waha-api-key",
}


@pytest.fixture(scope="session")
def waha_webhook_process(emulators: Emulators) -> Iterator[ManagedProcess]:
    proc = run_webhook(emulators, **WAHA_ENV, WAHA_WEBHOOK_HMAC_KEY=WAHA_KEY)
    yield proc
    proc.stop()


@pytest.fixture
def waha_webhook(waha_webhook_process: ManagedProcess, firestore_db, topics) -> WebhookClient:
    return WebhookClient(waha_webhook_process.url)


@pytest.fixture(scope="session")
def unsigned_waha_webhook_process(emulators: Emulators) -> Iterator[ManagedProcess]:
    proc = run_webhook(emulators, **WAHA_ENV, WAHA_ALLOW_UNSIGNED="true")
    yield proc
    proc.stop()
