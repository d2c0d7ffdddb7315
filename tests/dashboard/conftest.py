"""The dashboard under test: built by functions-framework from functions/dashboard/main.py, the
way Cloud Functions builds it, on the session's emulators.

Each app is a fresh instance: functions-framework loads main.py anew, which reads the settings
from the environment the fixture set and builds its own clients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import flask
import functions_framework
import pytest

from local.servers import RunningServer
from local.simulator import DEFAULT_ACCESS_TOKEN, WhatsAppSimulator, graph_api_url, start_simulator
from tests.support.cloud import MEDIA_BUCKET, MEDIA_TOPIC, PROJECT, REPLY_TOPIC, Emulators
from tests.support.dashboard import PASSWORD, SESSION_SECRET, SOURCE, Operator


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
        "MEDIA_BUCKET": MEDIA_BUCKET,
        "WHATSAPP_API_URL": graph_api_url(simulator_server),
        "WHATSAPP_API_TOKEN": DEFAULT_ACCESS_TOKEN,
        "LOG_LEVEL": "WARNING",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("IAP_AUDIENCE", "OPERATOR_EMAILS", "IAP_JWKS_URL"):
        monkeypatch.delenv(name, raising=False)
    return env


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
        return functions_framework.create_app(target="dashboard", source=SOURCE)

    return make


@pytest.fixture
def app(make_app: MakeApp) -> flask.Flask:
    return make_app()


@pytest.fixture
def operator(app: flask.Flask) -> Operator:
    signed_in = Operator(app.test_client())
    response = signed_in.login()
    assert response.status_code == 302, response.get_data(as_text=True)
    return signed_in
