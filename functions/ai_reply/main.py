"""Cloud Function `ai_reply`: a job on the reply topic -> one reply per burst, sent once."""

import logging

import functions_framework
from cloudevents.http import CloudEvent

from shared.ai_reply.budget import check_reply_budget
from shared.ai_reply.job import handle_reply_job
from shared.bus import UnusableJob, read_job
from shared.clients import Clients
from shared.config import Settings
from shared.log import setup_logging

SETTINGS = check_reply_budget(
    Settings.from_env()
    .require("google_cloud_project", "whatsapp_api_token")
    .require_model()
    .require_waha_api_key()
)
CLIENTS = Clients(SETTINGS)
setup_logging(SETTINGS.log_level)
log = logging.getLogger("ai_reply")


@functions_framework.cloud_event
def ai_reply(event: CloudEvent) -> None:
    try:
        received = read_job(event.data, event.get("time"))
    except UnusableJob as exc:
        # Acknowledged, not retried: redelivering a job that can never work only loops.
        log.error("unusable reply job dropped", extra={"reason": str(exc), "event_id": event.get("id")})
        return
    handle_reply_job(received, SETTINGS, CLIENTS)
