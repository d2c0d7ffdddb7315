"""The dashboard under test: built by functions-framework from functions/dashboard/main.py, the
way Cloud Functions builds it, on the session's emulators.

Settings are read once per instance (`shared.config.settings` is cached), so every app is made
after the environment is set and the caches are cleared.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import flask
import functions_framework
import pytest
from flask.testing import FlaskClient

from local.emulators import ManagedProcess, free_port, start_storage, wait_http
from local.servers import RunningServer
from local.whatsapp_simulator import DEFAULT_ACCESS_TOKEN, WhatsAppSimulator, graph_api_url, start_simulator
from tests.conftest import ARTIFACTS, MEDIA_TOPIC, PROJECT, REPLY_TOPIC, ROOT, Emulators

SOURCE = str(ROOT / "functions" / "dashboard" / "main.py")
PASSWORD = "correct horse battery staple"
SESSION_SECRET = "dashboard-test-session-secret-0123456789"
BUCKET = "dashboard-test-media"
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def clear_instance_caches() -> None:
    """Forget everything an instance caches, as a cold start would."""
    from shared.clients import firestore_client, publisher_client, storage_client
    from shared.config import settings
    from shared.whatsapp.client import whatsapp_client

    for cached in (settings, firestore_client, publisher_client, storage_client, whatsapp_client):
        cached.cache_clear()


@pytest.fixture(scope="session")
def storage_emulator() -> Iterator[ManagedProcess]:
    proc = start_storage(free_port(), BUCKET, ARTIFACTS / "logs")
    wait_http(proc)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[RunningServer[WhatsAppSimulator]]:
    server = start_simulator()
    yield server
    server.stop()


@pytest.fixture
def simulator(simulator_server: RunningServer[WhatsAppSimulator]) -> WhatsAppSimulator:
    simulator_server.state.reset()
    return simulator_server.state


@pytest.fixture
def dashboard_env(
    monkeypatch: pytest.MonkeyPatch,
    emulators: Emulators,
    firestore_db: Any,
    simulator_server: RunningServer[Any],
) -> dict[str, str]:
    """Password mode on the emulators, sending to the WhatsApp simulator."""
    env = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "DASHBOARD_PASSWORD": PASSWORD,
        "DASHBOARD_SESSION_SECRET": SESSION_SECRET,
        "REPLY_TOPIC": REPLY_TOPIC,
        "MEDIA_TOPIC": MEDIA_TOPIC,
        "MEDIA_BUCKET": BUCKET,
        "WHATSAPP_API_URL": graph_api_url(simulator_server),
        "WHATSAPP_API_TOKEN": DEFAULT_ACCESS_TOKEN,
        "LOG_LEVEL": "WARNING",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("IAP_AUDIENCE", "OPERATOR_EMAILS", "IAP_JWKS_URL"):
        monkeypatch.delenv(name, raising=False)
    clear_instance_caches()
    yield env
    clear_instance_caches()


MakeApp = Callable[..., flask.Flask]


@pytest.fixture
def make_app(dashboard_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> MakeApp:
    """A fresh instance; keyword arguments change the environment first (None removes a variable)."""

    def make(**env: str | None) -> flask.Flask:
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        clear_instance_caches()
        return functions_framework.create_app(target="dashboard", source=SOURCE)

    return make


def inner_app() -> flask.Flask:
    """The dashboard's own Flask app inside the function module functions-framework loaded."""
    import sys

    return sys.modules["main"].APP


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


class Operator:
    """A logged-in operator's browser, as far as a test client can be one."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, password: str = PASSWORD, **extra: str) -> Any:
        token = csrf_from(self.client.get("/login").get_data(as_text=True))
        return self.client.post("/login", data={"password": password, "csrf_token": token, **extra})

    def csrf(self) -> str:
        cookie = self.client.get_cookie("dashboard_csrf")
        assert cookie is not None, "no CSRF cookie yet"
        return cookie.value

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.post(url, data={"csrf_token": self.csrf(), **(data or {})}, **kwargs)


@pytest.fixture
def app(make_app: MakeApp) -> flask.Flask:
    return make_app()


@pytest.fixture
def operator(app: flask.Flask) -> Operator:
    signed_in = Operator(app.test_client())
    response = signed_in.login()
    assert response.status_code == 302, response.get_data(as_text=True)
    return signed_in
