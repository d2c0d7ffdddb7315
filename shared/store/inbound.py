"""Recording inbound messages exactly once, and claiming the job each one needs published.

The message document is created with its wamid as id, in one atomic batch with the
conversation upsert, so a redelivery (Meta's, or ours after a 503) writes nothing twice. The
job that goes with a message is tracked on the message itself (`job.state`) so a delivery that
stored the message but failed to publish leaves the job `pending`, and the next delivery of the
same body publishes it. A short claim (`job.claimed_until`) keeps simultaneous deliveries of one
body from publishing it twice; the claim is taken with a precondition on the document's update
time instead of a transaction, because concurrent transactions on one document stall on the
Firestore emulator and contend needlessly in production.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.store import stats
from shared.store.documents import inbound_message_document, preview
from shared.store.schema import (
    CALL,
    CALL_TIMEOUT,
    JobState,
    conversation_id,
    conversation_ref,
    expire_at,
    message_ref,
    name_key,
)
from shared.whatsapp.models import ChangeValue, InboundMessage

log = logging.getLogger(__name__)

JOB_CLAIM = timedelta(seconds=30)  # longer than one publish can take, short enough to recover from a crash
WAIT_FOR_OTHER_DELIVERY = 5.0  # seconds a duplicate delivery waits for the one already publishing


class JobInFlight(Exception):
    """Another delivery of the same message holds the job and has not confirmed it yet."""


@dataclass(frozen=True)
class PendingJob:
    """A job this caller has claimed and must publish, then mark published (or release)."""

    topic: str
    conversation_id: str
    message_id: str
    message_ref: firestore.DocumentReference


def record_inbound(
    db: firestore.Client,
    value: ChangeValue,
    message: InboundMessage,
    *,
    job_topic: str | None,
    retention_days: int,
) -> PendingJob | None:
    """Store `message` and upsert its conversation; return the job this caller must publish, if any.

    Raises JobInFlight when another delivery of the same message is still publishing its job.
    """
    now = datetime.now(UTC)
    conv_id = conversation_id(value.phone_number_id, message.sender)
    conv_ref = conversation_ref(db, conv_id)
    msg_ref = message_ref(db, conv_id, message.wamid)

    doc = inbound_message_document(message, received_at=now, expire_at=expire_at(now, retention_days))
    doc["job"] = (
        {"topic": job_topic, "state": JobState.PENDING.value, "claimed_until": now + JOB_CLAIM}
        if job_topic
        else None
    )
    conversation: dict[str, Any] = {
        "wa_id": message.sender,
        "phone_number_id": value.phone_number_id,
        "last_message_at": now,
        "last_inbound_at": now,  # WhatsApp's 24-hour customer service window runs from here
        "last_message_preview": preview(message),
        "message_count": firestore.Increment(1),
    }
    if name := value.contact_names.get(message.sender):
        conversation["display_name"] = name
        conversation["display_name_lower"] = name_key(name)  # the dashboard's prefix search

    batch = db.batch()
    batch.create(msg_ref, doc)
    batch.set(conv_ref, conversation, merge=True)
    # Counted in the same batch: a redelivery that stores nothing counts nothing.
    stats.add_stat_increments(batch, db, now, stats.inbound_message_stored(message.type.value), message.wamid)
    try:
        results = batch.commit(**CALL)
    except gexc.AlreadyExists:
        return _claim_existing_job(db, msg_ref, conv_id)
    if _first_message(results):
        # Known only once the batch ran: its Increment returned 1. Should this write fail, the
        # delivery is answered 503 and the conversation merely lacks created_at and its count.
        first = db.batch()
        first.update(conv_ref, {"created_at": now})
        stats.add_lifetime_increments(first, db, stats.conversation_started(), conv_id)
        first.commit(**CALL)
    if not job_topic:
        return None
    return PendingJob(job_topic, conv_id, message.wamid, msg_ref)


def _first_message(results: list[Any]) -> bool:
    # The batch's second write carries the Increment; its result is the new message_count.
    transform = list(results[1].transform_results) if len(results) > 1 else []
    return bool(transform) and transform[0].integer_value == 1


def _claim_existing_job(
    db: firestore.Client, msg_ref: firestore.DocumentReference, conv_id: str
) -> PendingJob | None:
    """A repeat delivery: publish the job only if no delivery published it or is publishing it now."""
    deadline = time.monotonic() + WAIT_FOR_OTHER_DELIVERY
    while True:
        snap = msg_ref.get(**CALL)
        job = snap.get("job") if snap.exists else None
        if not job or job.get("state") == JobState.PUBLISHED:
            return None
        now = datetime.now(UTC)
        if job["claimed_until"] <= now:
            try:
                msg_ref.update(
                    {"job.claimed_until": now + JOB_CLAIM},
                    option=db.write_option(last_update_time=snap.update_time),
                    timeout=CALL_TIMEOUT,
                )
                return PendingJob(job["topic"], conv_id, msg_ref.id, msg_ref)
            except gexc.FailedPrecondition:
                pass  # another delivery claimed it first; wait for it like any other
        if time.monotonic() >= deadline:
            raise JobInFlight(f"job of {msg_ref.id} is being published by another delivery")
        time.sleep(0.1)


def mark_job_published(job: PendingJob, pubsub_message_id: str) -> None:
    job.message_ref.update(
        {
            "job.state": JobState.PUBLISHED.value,
            "job.published_at": datetime.now(UTC),
            "job.pubsub_id": pubsub_message_id,
        },
        **CALL,
    )


def release_job(job: PendingJob) -> None:
    """Let the next delivery publish at once instead of waiting for the claim to run out."""
    try:
        job.message_ref.update({"job.claimed_until": datetime.now(UTC)}, timeout=CALL_TIMEOUT)
    except gexc.GoogleAPIError:
        # The original failure is what the caller reports; the claim simply runs out in JOB_CLAIM.
        log.warning("could not release the job claim", extra={"message_id": job.message_id})
