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
