"""Cloud Function `webhook`: WhatsApp Cloud API webhooks (GET handshake, signed POST deliveries)
and WAHA's (signed POSTs on /webhook/waha)."""

import flask
import functions_framework

from shared.clients import Clients
from shared.config import Settings
from shared.log import setup_logging
from shared.webhook.http import handle
from shared.webhook.waha import warn_if_unsigned

# Refuse to start without the secrets: a webhook that cannot check signatures must not run.
# A WAHA session's webhooks must be signed too, unless the operator says the network is private.
SETTINGS = (
    Settings.from_env()
    .require("whatsapp_app_secret", "webhook_verify_token", "google_cloud_project")
    .require_waha_signing()
)
CLIENTS = Clients(SETTINGS)
setup_logging(SETTINGS.log_level)
warn_if_unsigned(SETTINGS)


@functions_framework.http
def webhook(request: flask.Request) -> flask.Response:
    return handle(request, SETTINGS, CLIENTS)
