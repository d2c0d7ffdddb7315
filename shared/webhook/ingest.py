"""An authenticated webhook delivery -> stored messages, applied statuses and published jobs.

Everything here is idempotent, so the webhook can answer 503 on any failure and let Meta's
redelivery finish the work: a message already stored is not stored again, a job already
published is not published again, a status already applied changes nothing.

A message's job is published as soon as the message is stored, so it overlaps the next
message's write in a delivery of several; the answer waits for every publish. A job is never
published before Firestore confirmed its message: a repeat delivery must learn from the failed
create that the message exists before it may publish anything, or every duplicate of a body
would publish a job of its own.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc

from shared.bus import Job, JobBus
from shared.clients import Clients
from shared.config import Settings
from shared.store import coexistence
from shared.store.inbound import JobInFlight, PendingJob, mark_job_published, record_inbound, release_job
from shared.store.quarantine import quarantine, record_webhook_errors
from shared.store.replies import reply_of_callback
from shared.store.schema import conversation_id
from shared.store.statuses import apply_status
from shared.store.templates import apply_template_event
from shared.whatsapp.models import (
    MEDIA_TYPES,
    REPLYABLE_TYPES,
    ChangeField,
    ChangeValue,
    DeliveryStatus,
    HistoryMessage,
    InboundMessage,
    StatusUpdate,
)
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
    echoes: int = 0  # the business's own messages from the WhatsApp Business app
    history: int = 0  # past messages a history sync stored
    contacts_named: int = 0
    template_events: int = 0
    reengagements: int = 0
    quarantined: list[str] = field(default_factory=list)
    ignored: int = 0  # events of chats or kinds the assistant never answers (WAHA: groups, broadcasts)


def job_topic(message: InboundMessage, settings: Settings) -> str:
    """Media goes to the media function first; everything else to the reply one, which answers
    what can be answered and records the rest (reactions, unsupported and system messages): its
    consumer is who finds the user's conversation (shared/store/identity.py)."""
    if message.type in MEDIA_TYPES:
        return settings.media_topic
    return settings.reply_topic


def job_reason(message: InboundMessage) -> str:
    return "inbound" if message.type in REPLYABLE_TYPES else "record"


REENGAGE_REASON = "reengage"
WINDOW_CLOSED = 131047


def window_closed_on_reply(status: StatusUpdate) -> bool:
    """A part of one of the assistant's replies failed because the 24-hour window had closed."""
    return (
        status.status is DeliveryStatus.FAILED
        and any(e.code == WINDOW_CLOSED for e in status.errors)
        and reply_of_callback(status.callback_data) is not None
    )


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

    for event in delivery.template_events:
        apply_template_event(db, event)
        report.template_events += 1

    values = []
    for i, entry in enumerate(delivery.entries):
        for j, change in enumerate(entry.changes):
            if change.value is not None:
                values.append((f"entry[{i}].changes[{j}].value", change.value))
            elif change.template is None:
                log.info("webhook field ignored", extra={"field": change.field})
    return store_values(body, values, settings, clients, report)


def store_values(
    body: bytes,
    values: list[tuple[str, ChangeValue]],
    settings: Settings,
    clients: Clients,
    report: IngestReport,
) -> IngestReport:
    """Store the messages and apply the statuses of each (path in `body`, value), whichever
    provider's webhook they were parsed from, and publish the jobs they need."""
    db = clients.firestore
    pending: list[tuple[PendingJob, Future[str]]] = []
    in_flight = 0
    try:
        for path, value in values:
            if value.errors:
                log.error(
                    "WhatsApp reported errors",
                    extra={
                        "errors": [e.as_dict() for e in value.errors],
                        "phone_number_id": value.phone_number_id,
                    },
                )
                record_webhook_errors(
                    db,
                    body,
                    path=f"{path}.errors",
                    phone_number_id=value.phone_number_id,
                    errors=value.errors,
                )
            if value.field is not ChangeField.MESSAGES:
                _record_coexistence(db, value, settings, report)
                continue
            for message in value.messages:
                report.messages += 1
                try:
                    job = record_inbound(
                        db,
                        value,
                        message,
                        job_topic=job_topic(message, settings),
                        retention_days=settings.retention_days,
                        reason=job_reason(message),
                    )
                except JobInFlight:
                    in_flight += 1
                    continue
                if job is not None:
                    pending.append((job, _start_publish(clients.bus, job)))
            for status in value.statuses:
                report.statuses += 1
                if not apply_status(db, value.phone_number_id, status):
                    report.unknown_statuses += 1
                if window_closed_on_reply(status):
                    # The reply job sends the re-engagement template (once: it claims it).
                    conv_id = conversation_id(value.phone_number_id, status.recipient)
                    clients.bus.publish(settings.reply_topic, Job(conv_id, reason=REENGAGE_REASON))
                    report.reengagements += 1
    finally:
        # Whatever happened above, see every publish through: those messages are stored, and a
        # published job now saves the redelivery from doing it later.
        report.jobs_published = _await_published(pending)
    report.new_messages = len(pending)
    if in_flight:
        raise IngestFailed(
            f"{in_flight} message(s) have a job another delivery claimed and nobody received yet"
        )
    return report


def _record_coexistence(db: Any, value: ChangeValue, settings: Settings, report: IngestReport) -> None:
    """What the WhatsApp Business app reports: the owner's messages, past chats, contact names."""
    for echo in value.echoes:
        stored = coexistence.record_echo(
            db,
            value.phone_number_id,
            echo,
            pause_minutes=settings.human_reply_pause_minutes,
            retention_days=settings.retention_days,
        )
        report.echoes += int(stored)
    if value.field is ChangeField.HISTORY:
        # A sync's media arrives as ordinary messages under the history field: past, never answered.
        past = [*value.history, *(HistoryMessage(m, from_business=False) for m in value.messages)]
        if past:
            synced = coexistence.record_history(
                db, value.phone_number_id, past, retention_days=settings.retention_days
            )
            report.history += synced.stored
    if value.contact_updates:
        report.contacts_named += coexistence.apply_contact_updates(
            db, value.phone_number_id, value.contact_updates
        )


def _start_publish(bus: JobBus, job: PendingJob) -> Future[str]:
    try:
        return bus.publish_async(job.topic, Job(job.conversation_id, job.message_id, job.reason))
    except Exception as exc:  # e.g. the publisher could not be created: fails like a publish would
        failed: Future[str] = Future()
        failed.set_exception(exc)
        return failed


def _await_published(pending: list[tuple[PendingJob, Future[str]]]) -> int:
    """Wait for every publish; raise after seeing them all through if any failed.

    Nothing is written for a first delivery's job once Pub/Sub accepted it: its consumer records
    the arrival. A failed one gives its claim back, so the redelivery need not wait for it.
    """
    failed: list[BaseException] = []
    published = 0
    for job, future in pending:
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
        if job.confirm:
            mark_job_published(job, pubsub_id)
        published += 1
    if failed:
        raise IngestFailed(f"{len(failed)} job(s) could not be published: {failed[0]!r}") from failed[0]
    return published


TRANSIENT_ERRORS = (IngestFailed, gexc.GoogleAPIError, TimeoutError)
