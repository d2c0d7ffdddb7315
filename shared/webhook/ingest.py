"""An authenticated webhook delivery -> stored messages, applied statuses and published jobs.

Everything here is idempotent, so the webhook can answer 503 on any failure and let Meta's
redelivery finish the work: a message already stored is not stored again, a job already
published is not published again, a status already applied changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from google.api_core import exceptions as gexc

from shared.bus import Job, JobBus
from shared.clients import Clients
from shared.config import Settings
from shared.store.inbound import JobInFlight, PendingJob, mark_job_published, record_inbound, release_job
from shared.store.quarantine import quarantine, record_webhook_errors
from shared.store.statuses import apply_status
from shared.whatsapp.models import MEDIA_TYPES, REPLYABLE_TYPES, InboundMessage
from shared.whatsapp.parse import MalformedDelivery, parse_delivery

log = logging.getLogger(__name__)


class IngestFailed(Exception):
    """Some work could not be confirmed; the delivery must be answered 5xx so Meta retries it."""


@dataclass
class IngestReport:
    messages: int = 0
    new_messages: int = 0
    jobs_published: int = 0
    statuses: int = 0
    unknown_statuses: int = 0
    quarantined: list[str] = field(default_factory=list)


def job_topic(message: InboundMessage, settings: Settings) -> str | None:
    """Media goes to the media function first; other replyable messages straight to the reply one."""
    if message.type in MEDIA_TYPES:
        return settings.media_topic
    if message.type in REPLYABLE_TYPES:
        return settings.reply_topic
    return None  # reactions, unsupported and system messages are recorded, not answered


def ingest(body: bytes, settings: Settings, clients: Clients) -> IngestReport:
    """Store and publish everything in `body`. Raises IngestFailed (or a Google API error) on failure."""
    db = clients.firestore
    report = IngestReport()
    try:
        delivery = parse_delivery(body)
    except MalformedDelivery as exc:
        log.warning("webhook body quarantined", extra={"reason": exc.reason, "path": exc.path})
        report.quarantined.append(quarantine(db, body, reason=exc.reason, path=exc.path))
        return report

    for part in delivery.rejected:
        log.warning("webhook part quarantined", extra={"reason": part.reason, "path": part.path})
        report.quarantined.append(quarantine(db, body, reason=part.reason, path=part.path, part=part.raw))

    pending: list[PendingJob] = []
    in_flight = 0
    try:
        for i, entry in enumerate(delivery.entries):
            for j, change in enumerate(entry.changes):
                value = change.value
                if value is None:
                    log.info("webhook field ignored", extra={"field": change.field})
                    continue
                if value.errors:
                    log.error(
                        "WhatsApp reported errors",
                        extra={
                            "errors": [e.as_dict() for e in value.errors],
                            "phone_number_id": value.phone_number_id,
                        },
                    )
                    path = f"entry[{i}].changes[{j}].value.errors"
                    record_webhook_errors(
                        db, body, path=path, phone_number_id=value.phone_number_id, errors=value.errors
                    )
                for message in value.messages:
                    report.messages += 1
                    try:
                        job = record_inbound(
                            db,
                            value,
                            message,
                            job_topic=job_topic(message, settings),
                            retention_days=settings.retention_days,
                        )
                    except JobInFlight:
                        in_flight += 1
                        continue
                    if job is not None:
                        pending.append(job)
                for status in value.statuses:
                    report.statuses += 1
                    if not apply_status(db, value.phone_number_id, status):
                        report.unknown_statuses += 1
    finally:
        # Whatever happened above, publish what was claimed: those messages are stored, and a
        # published job now saves the redelivery from doing it later.
        report.jobs_published = _publish(clients.bus, pending)
    report.new_messages = len(pending)
    if in_flight:
        raise IngestFailed(f"{in_flight} message(s) are still being published by another delivery")
    return report


def _publish(bus: JobBus, pending: list[PendingJob]) -> int:
    """Publish claimed jobs concurrently; raise after trying them all if any failed."""
    futures = [
        (job, bus.publish_async(job.topic, Job(job.conversation_id, job.message_id))) for job in pending
    ]
    failed: list[BaseException] = []
    published = 0
    for job, future in futures:
        try:
            pubsub_id = future.result(timeout=15)
        except Exception as exc:  # any publish failure: give the claim back, report after the rest
            failed.append(exc)
            log.error(
                "publishing a job failed",
                extra={"topic": job.topic, "message_id": job.message_id, "error": repr(exc)},
            )
            release_job(job)
            continue
        mark_job_published(job, pubsub_id)
        published += 1
    if failed:
        raise IngestFailed(f"{len(failed)} job(s) could not be published: {failed[0]!r}") from failed[0]
    return published


TRANSIENT_ERRORS = (IngestFailed, gexc.GoogleAPIError, TimeoutError)
