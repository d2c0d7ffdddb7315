"""Clients: made on first use, once per instance, from the settings given; stand-ins by keyword."""

from __future__ import annotations

import threading

import pytest

from shared.clients import Clients
from shared.config import ConfigError, Settings


def test_nothing_is_created_until_it_is_used_and_then_only_once() -> None:
    clients = Clients(Settings(whatsapp_api_url="http://127.0.0.1:9/v27.0", whatsapp_api_token="t"))
    assert clients._made == {}
    first = clients.whatsapp
    assert clients.whatsapp is first
    assert set(clients._made) == {"whatsapp"}
    assert first.base_url == "http://127.0.0.1:9/v27.0"


def test_threads_asking_at_once_share_one_client() -> None:
    clients = Clients(Settings(google_cloud_project="demo"))
    seen: list[object] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        seen.append(clients.bus)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(bus) for bus in seen}) == 1


def test_a_client_made_from_another_does_not_deadlock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
    clients = Clients(Settings(google_cloud_project="demo", media_bucket="b"))
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(clients.bucket), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert result and result[0].bucket_name == "b"
    assert clients.storage is clients._made["storage"]


def test_a_stand_in_given_by_keyword_is_used_instead_of_a_real_client() -> None:
    stand_in = object()
    assert Clients(Settings(), firestore=stand_in).firestore is stand_in
    with pytest.raises(TypeError, match="unknown client"):
        Clients(Settings(), firebase=stand_in)


def test_the_bus_publishes_to_the_settings_project() -> None:
    bus = Clients(Settings(google_cloud_project="demo-x")).bus
    assert bus.topic_path("whatsapp-reply") == "projects/demo-x/topics/whatsapp-reply"


def test_a_model_client_needs_a_key_an_endpoint_or_vertex() -> None:
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        _ = Clients(Settings()).genai
    assert Clients(Settings(gemini_base_url="http://127.0.0.1:9")).genai is not None
