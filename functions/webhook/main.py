"""Cloud Function `webhook`: WhatsApp Cloud API webhooks (GET handshake, signed POST deliveries)."""

import flask
import functions_framework

from shared.clients import Clients
from shared.config import Settings
from shared.log import setup_logging
from shared.webhook.http import handle

# Refuse to start without the secrets: a webhook that cannot check signatures must not run.
SETTINGS = Settings.from_env().require("whatsapp_app_secret", "webhook_verify_token", "google_cloud_project")
CLIENTS = Clients(SETTINGS)
setup_logging(SETTINGS.log_level)


@functions_framework.http
def webhook(request: flask.Request) -> flask.Response:
    return handle(request, SETTINGS, CLIENTS)
