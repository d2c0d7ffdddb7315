"""Cloud Function `media`: a job on the media topic -> the message's media downloaded, prepared and stored."""

import logging

import functions_framework
from cloudevents.http import CloudEvent

from shared.bus import UnusableJob, read_job
from shared.clients import Clients
from shared.config import Settings
from shared.log import setup_logging
from shared.media.ffmpeg import ffmpeg_exe
from shared.media.job import handle_media_job

SETTINGS = (
    Settings.from_env()
    .require("google_cloud_project", "whatsapp_api_token", "media_bucket")
    .require_waha_api_key()
)
CLIENTS = Clients(SETTINGS)
setup_logging(SETTINGS.log_level)
log = logging.getLogger("media")
ffmpeg_exe()  # fail at start, loudly, if the instance cannot transcode audio or read video


@functions_framework.cloud_event
def media(event: CloudEvent) -> None:
    try:
        received = read_job(event.data, event.get("time"))
    except UnusableJob as exc:
        log.error("unusable media job dropped", extra={"reason": str(exc), "event_id": event.get("id")})
        return
    handle_media_job(received, SETTINGS, CLIENTS)
