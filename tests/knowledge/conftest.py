"""A knowledge base on the Firestore emulator, embedded by the offline model through google-genai."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local.offline_gemini import start_offline_gemini
from shared.clients import Clients
from shared.config import Settings
from tests.support.cloud import PROJECT


@pytest.fixture(scope="module")
def offline_model() -> Iterator:
    with start_offline_gemini() as running:
        yield running


@pytest.fixture
def model(offline_model):
    requests.post(f"{offline_model.url}/_fake/reset", timeout=5)
    return offline_model


@pytest.fixture
def settings(model) -> Settings:
    return Settings(google_cloud_project=PROJECT, gemini_base_url=model.url, gemini_max_attempts=1)


@pytest.fixture
def clients(settings, firestore_db) -> Clients:
    return Clients(settings, firestore=firestore_db)
