"""Recording inbound messages exactly once, and the job each one needs published.

A first delivery costs one Firestore write and one publish, nothing more: the message document
is created with its wamid as id (so a redelivery, Meta's or ours after a 503, writes nothing
twice), carrying the job it needs under a short claim (`job.claimed_until`), and then the job is
published. Nothing is written after the publish. The consumer that receives the job records its
arrival (`record_job_arrival`) and, in the same batch and only that once, brings the
conversation's summary and the daily counters up to date from the message document. Messages
that need no job (reactions, system, unsupported) have no consumer, so their conversation and
counters are written in the one batch that creates them.

A repeat delivery finds the message and decides from its job:
- received or published: nothing to do;
- pending under a live claim: a delivery is publishing it, or published it and its consumer has
  not said so yet, or died before publishing. Only the consumer can tell these apart, so the
  repeat waits briefly for the arrival and otherwise answers 503 (Meta retries later);
- pending, claim run out: nobody is publishing it; the repeat claims and publishes it, then marks
  it published (repeats are rare, so this path can afford the extra write the first one skips).

The claim is taken with a precondition on the document's update time instead of a transaction,
because concurrent transactions on one document stall on the Firestore emulator and contend
needlessly in production; the arrival is recorded the same way.
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
WAIT_FOR_OTHER_DELIVERY = 5.0  # seconds a repeat delivery waits for the job's arrival
ARRIVAL_ATTEMPTS = 5  # a consumer's arrival races only the rare repeat delivery updating the claim


class JobInFlight(Exception):
    """The message's job is claimed by another delivery and its arrival is not recorded yet."""


@dataclass(frozen=True)
class PendingJob:
    """A job this caller has claimed and must publish (or release).

    `confirm`: mark it published once Pub/Sub accepted it. A first delivery leaves that to the
    consumer; a repeat that had to publish again does it, so the next repeat needs no consumer.
    """

    topic: str
    conversation_id: str
    message_id: str
    message_ref: firestore.DocumentReference
    confirm: bool = False


def record_inbound(
    db: firestore.Client,
    value: ChangeValue,
    message: InboundMessage,
    *,
    job_topic: str | None,
    retention_days: int,
) -> PendingJob | None:
    """Store `message`; return the job this caller must publish, if any.

    Raises JobInFlight when another delivery holds the job's claim and its arrival is not recorded.
    """
    now = datetime.now(UTC)
    conv_id = conversation_id(value.phone_number_id, message.sender)
    msg_ref = message_ref(db, conv_id, message.wamid)
    doc = inbound_message_document(
        message,
        phone_number_id=value.phone_number_id,
        profile_name=value.contact_names.get(message.sender),
        received_at=now,
        expire_at=expire_at(now, retention_days),
    )
    if not job_topic:
        doc["job"] = None
        _record_without_job(db, conv_id, msg_ref, doc, now)
        return None

    doc["job"] = {"topic": job_topic, "state": JobState.PENDING.value, "claimed_until": now + JOB_CLAIM}
    try:
        msg_ref.create(doc, **CALL)
    except gexc.AlreadyExists:
        return _claim_existing_job(db, msg_ref, conv_id)
    return PendingJob(job_topic, conv_id, message.wamid, msg_ref)


def _record_without_job(
    db: firestore.Client,
    conv_id: str,
    msg_ref: firestore.DocumentReference,
    doc: dict[str, Any],
    now: datetime,
) -> None:
    """A message no consumer will see: it and its conversation's summary in one batch."""
    conv_ref = conversation_ref(db, conv_id)
    batch = db.batch()
    batch.create(msg_ref, doc)
    batch.set(
        conv_ref, {**conversation_summary(doc, now), "message_count": firestore.Increment(1)}, merge=True
    )
    # Counted in the same batch: a redelivery that stores nothing counts nothing.
    stats.add_stat_increments(batch, db, now, stats.inbound_message_stored(doc["type"]), msg_ref.id)
    try:
        results = batch.commit(**CALL)
    except gexc.AlreadyExists:
        return
    if _first_message(results):
        # Known only once the batch ran: its Increment returned 1. Should this write fail, the
        # delivery is answered 503 and the conversation merely lacks created_at and its count.
        first = db.batch()
        first.update(conv_ref, {"created_at": now})
        stats.add_lifetime_increments(first, db, stats.conversation_started(), conv_id)
        first.commit(**CALL)


def conversation_summary(message: dict[str, Any], now: datetime, *, latest: bool = True) -> dict[str, Any]:
    """What an inbound message (as stored) changes on its conversation, `message_count` aside.

    `latest` is False for a message older than the last one already summarised: it moves the
    activity time but leaves the preview, the name and the 24-hour window to the newer one.
    """
    summary: dict[str, Any] = {
        "wa_id": message["sender"],
        "phone_number_id": message["phone_number_id"],
        "last_message_at": now,  # when the summary changed, which the dashboard's live list polls by
    }
    if latest:
        summary["last_inbound_at"] = message["received_at"]  # WhatsApp's customer service window
        summary["last_message_preview"] = preview(message["type"], message.get("text") or "")
        if name := message.get("profile_name"):
            summary["display_name"] = name
            summary["display_name_lower"] = name_key(name)  # the dashboard's prefix search
    return summary


def _first_message(results: list[Any]) -> bool:
    # The batch's second write carries the Increment; its result is the new message_count.
    transform = list(results[1].transform_results) if len(results) > 1 else []
    return bool(transform) and transform[0].integer_value == 1


def _claim_existing_job(
    db: firestore.Client, msg_ref: firestore.DocumentReference, conv_id: str
) -> PendingJob | None:
    """A repeat delivery: publish the job only if nobody can still be publishing it."""
    deadline = time.monotonic() + WAIT_FOR_OTHER_DELIVERY
    while True:
        snap = msg_ref.get(**CALL)
        job = snap.get("job") if snap.exists else None
        if not job or job.get("state") == JobState.PUBLISHED or job.get("received_at"):
            return None
        now = datetime.now(UTC)
        if job["claimed_until"] <= now:
            try:
                msg_ref.update(
                    {"job.claimed_until": now + JOB_CLAIM},
                    option=db.write_option(last_update_time=snap.update_time),
                    timeout=CALL_TIMEOUT,
                )
                return PendingJob(job["topic"], conv_id, msg_ref.id, msg_ref, confirm=True)
            except gexc.FailedPrecondition:
                pass  # another delivery claimed it, or its consumer recorded it, first: look again
        if time.monotonic() >= deadline:
            raise JobInFlight(f"job of {msg_ref.id} is claimed and its arrival not recorded yet")
        time.sleep(0.1)


def mark_job_published(job: PendingJob, pubsub_message_id: str) -> None:
    """A repeat delivery republished the job and Pub/Sub accepted it."""
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


# -- the consumer's side ---------------------------------------------------------------------------


def record_job_arrival(
    db: firestore.Client, conv_id: str, message_id: str, *, published_at: datetime | None = None
) -> dict[str, Any] | None:
    """The first step of every consumer of an inbound message's job; returns the message (None if unknown).

    The first time the job of this message arrives, one batch marks it published and received
    (`published_at` is the publisher's stamp) and applies the message to its conversation and the
    counters. The batch is conditional on the message being unchanged since it was read, so two
    deliveries of the job (Pub/Sub's at-least-once) apply it once; a later arrival writes nothing.
    """
    msg_ref = message_ref(db, conv_id, message_id)
    conv_ref = conversation_ref(db, conv_id)
    for _ in range(ARRIVAL_ATTEMPTS):
        snaps = {snap.reference.path: snap for snap in db.get_all([msg_ref, conv_ref], **CALL)}
        msg_snap, conv_snap = snaps[msg_ref.path], snaps[conv_ref.path]
        if not msg_snap.exists:
            return None
        message = msg_snap.to_dict() or {}
        job = message.get("job")
        if not isinstance(job, dict) or job.get("received_at"):
            return message  # recorded without a job (its conversation came with it), or received before

        now = datetime.now(UTC)
        arrival: dict[str, Any] = {"job.state": JobState.PUBLISHED.value, "job.received_at": now}
        if published_at is not None and not job.get("published_at"):
            arrival["job.published_at"] = published_at
        batch = db.batch()
        batch.update(msg_ref, arrival, option=db.write_option(last_update_time=msg_snap.update_time))
        _add_to_conversation(batch, db, conv_ref, conv_snap, message, now)
        stats.add_stat_increments(
            batch, db, message["received_at"], stats.inbound_message_stored(message["type"]), message_id
        )
        try:
            batch.commit(**CALL)
        except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound):
            continue  # the message or the conversation changed under us: read both again
        job.update({"state": JobState.PUBLISHED.value, "received_at": now})
        return message
    raise gexc.Aborted(f"the arrival of {message_id}'s job kept racing other writes")


def _add_to_conversation(
    batch: firestore.WriteBatch,
    db: firestore.Client,
    conv_ref: firestore.DocumentReference,
    conv_snap: firestore.DocumentSnapshot,
    message: dict[str, Any],
    now: datetime,
) -> None:
    """The message's share of its conversation: summary, count and, for the first one, its start."""
    conversation = conv_snap.to_dict() if conv_snap.exists else None
    last_inbound = (conversation or {}).get("last_inbound_at")
    summary = conversation_summary(
        message, now, latest=not last_inbound or message["received_at"] >= last_inbound
    )
    if conversation is not None and conversation.get("created_at"):
        batch.set(conv_ref, {**summary, "message_count": firestore.Increment(1)}, merge=True)
        return
    # The conversation starts with this message. Conditional (create, or unchanged since read) so
    # that two first messages arriving at once start it, and count it, once.
    started = {**summary, "created_at": message["received_at"]}
    if conversation is None:
        batch.create(conv_ref, {**started, "message_count": 1})
    else:
        # Written before its first message was received (an operator paused it, say).
        batch.update(
            conv_ref,
            {**started, "message_count": firestore.Increment(1)},
            option=db.write_option(last_update_time=conv_snap.update_time),
        )
    stats.add_lifetime_increments(batch, db, stats.conversation_started(), conv_ref.id)
