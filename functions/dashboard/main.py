"""Cloud Function `dashboard`: the operator dashboard (pages, live updates, media, actions)."""

from pathlib import Path

import flask
import functions_framework

from shared.clients import Clients
from shared.config import Settings
from shared.dashboard import create_dashboard, dispatch
from shared.log import setup_logging

SETTINGS = Settings.from_env().require_waha_api_key()  # operators reply through WAHA too
CLIENTS = Clients(SETTINGS)
setup_logging(SETTINGS.log_level)
# Refuses to start (ConfigError) unless IAP or the local password login is configured.
APP = create_dashboard(SETTINGS, CLIENTS, root=Path(__file__).resolve().parent)


@functions_framework.http
def dashboard(request: flask.Request) -> flask.Response:
    return dispatch(APP, request)
