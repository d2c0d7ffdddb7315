"""Fixtures of the whole suite: the Firestore, Pub/Sub and Storage emulators on free ports.

They start once per session (a few seconds each) and only when a test asks for them; each test
gets an empty database and fresh topics, so tests never see each other's data. Every Firestore
query the run makes, here or in a process a test starts, is recorded by shape
(tests/support/query_log.py) for the index checks that run last.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from local.emulators import ManagedProcess, free_port, reset_firestore, start_storage, wait_http
from tests.support.cloud import ARTIFACTS, MEDIA_BUCKET, PROJECT, Emulators, Topics, start_emulators

pytest_plugins = ["tests.support.query_log"]


@pytest.fixture(scope="session")
def emulators() -> Iterator[Emulators]:
    emus = start_emulators(ARTIFACTS / "logs")
    saved = {k: os.environ.get(k) for k in emus.env}
    os.environ.update(emus.env)
    yield emus
    emus.firestore.stop()
    emus.pubsub.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def firestore_db(emulators: Emulators):
    """A Firestore client on an emptied emulator database."""
    from google.cloud import firestore

    reset_firestore(emulators.firestore.host_port, PROJECT)
    return firestore.Client(project=PROJECT)


@pytest.fixture
def topics(emulators: Emulators) -> Iterator[Topics]:
    t = Topics(PROJECT)
    t.create()
    yield t
    t.delete()


@pytest.fixture(scope="session")
def storage_emulator() -> Iterator[ManagedProcess]:
    """gcp-storage-emulator on a free port, in memory, with the media bucket created."""
    proc = start_storage(free_port(), MEDIA_BUCKET, ARTIFACTS / "logs")
    wait_http(proc)
    yield proc
    proc.stop()


@pytest.fixture
def gcs_client(storage_emulator: ManagedProcess, monkeypatch: pytest.MonkeyPatch):
    """A real google-cloud-storage client pointed at the emulator the way the stack does it."""
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator.env["STORAGE_EMULATOR_HOST"])
    return storage.Client(project=PROJECT)


@pytest.fixture
def media_bucket(gcs_client):
    from shared.bucket import MediaBucket

    return MediaBucket(gcs_client, MEDIA_BUCKET)


@pytest.fixture
def gcs_bucket() -> str:
    return MEDIA_BUCKET


def pytest_sessionstart(session: pytest.Session) -> None:
    """Screenshots are this run's: none left from an earlier one passes for a new one."""
    from tests.support.browser import SCREENSHOTS

    shutil.rmtree(SCREENSHOTS, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per test module (tests/support/browser.py)."""
    from tests.support.browser import launched_chromium

    with launched_chromium() as browser:
        yield browser
