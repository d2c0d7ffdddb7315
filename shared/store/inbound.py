"""Recording inbound messages exactly once, and the job each one needs published.

A first delivery costs one Firestore write and one publish, nothing more: the message document
is created with its wamid as id (so a redelivery, Meta's or ours after a 503, writes nothing
twice), carrying the job it needs under a short claim (`job.claimed_until`), and then the job is
published. Nothing is written after the publish. The consumer that receives the job records its
arrival and, in the same write and only that once, brings the conversation's summary and the
counters up to date from the message document: the media function in a batch of its own
(`record_job_arrival`), the reply function inside its lease transaction (`plan_arrival`). Messages
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
needlessly in production; `record_job_arrival` is conditional the same way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.store import identity, stats
from shared.store.documents import inbound_message_document, preview
from shared.store.schema import (
    CALL,
    CALL_TIMEOUT,
    JobState,
    business_number,
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
    reason: str = "inbound"  # the Job's: "record" for a message only recorded, never answered


def record_inbound(
    db: firestore.Client,
    value: ChangeValue,
    message: InboundMessage,
    *,
    job_topic: str | None,
    retention_days: int,
    reason: str = "inbound",
) -> PendingJob | None:
    """Store `message`; return the job this caller must publish, if any.

    Raises JobInFlight when another delivery holds the job's claim and its arrival is not recorded.
    """
    now = datetime.now(UTC)
    conv_id = conversation_id(value.phone_number_id, message.sender)
    msg_ref = message_ref(db, conv_id, message.wamid)
    doc = inbound_message_document(
        message,
        profile_name=message.user.name,
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
        return _claim_existing_job(db, msg_ref, conv_id, reason)
    return PendingJob(job_topic, conv_id, message.wamid, msg_ref, reason=reason)


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
    summary = conversation_summary(conv_id, doc, now, identity=identity.message_identity(doc))
    batch.set(conv_ref, {**summary, "message_count": firestore.Increment(1)}, merge=True)
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


def conversation_summary(
    conv_id: str,
    message: dict[str, Any],
    now: datetime,
    *,
    latest: bool = True,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What an inbound message (as stored) changes on its conversation, `message_count` aside.

    `latest` is False for a message older than the last one already summarised: it moves the
    activity time but leaves the preview, the name, the identity and the 24-hour window to the
    newer one. `identity`: the user's identifiers the conversation takes (`identity.resolve`).
    """
    summary: dict[str, Any] = {
        "phone_number_id": business_number(conv_id),
        "last_message_at": now,  # when the summary changed, which the dashboard's live list polls by
    }
    if latest and identity:
        summary.update(identity)
    if latest:
        summary["last_inbound_at"] = message["received_at"]  # WhatsApp's customer service window
        summary["awaiting_reply"] = True  # until the business writes back (outbound.add_outbound)
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
    db: firestore.Client, msg_ref: firestore.DocumentReference, conv_id: str, reason: str
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
                return PendingJob(job["topic"], conv_id, msg_ref.id, msg_ref, confirm=True, reason=reason)
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


@dataclass(frozen=True)
class Arrival:
    """What the first arrival of a message's job writes, for whoever commits it: a batch here, or
    the reply lease's transaction (which writes the conversation anyway, so the reply path pays
    no round trip for it)."""

    message: dict[str, Any]  # the stored message, as read
    message_fields: dict[str, Any]  # its job marked published and received
    conversation: dict[str, Any]  # the summary the message brings, `message_count` aside
    starts_conversation: bool  # the first message: it sets `created_at` and counts the conversation
    links: tuple[str, ...] = ()  # link documents to create for identifiers the conversation learnt


def plan_arrival(
    conv_id: str,
    message: dict[str, Any] | None,
    conversation: dict[str, Any] | None,
    now: datetime,
    published_at: datetime | None = None,
    here: identity.Here | None = None,
) -> Arrival | None:
    """The arrival to write, given the message and its conversation as read and where the message
    belongs (`here`, from `identity.resolve`); None when there is none (an unknown message, one
    recorded without a job, or a job that arrived before)."""
    job = (message or {}).get("job")
    if message is None or not isinstance(job, dict) or job.get("received_at"):
        return None
    here = here or identity.Here(identity.message_identity(message))
    fields: dict[str, Any] = {"job.state": JobState.PUBLISHED.value, "job.received_at": now}
    if published_at is not None and not job.get("published_at"):
        fields["job.published_at"] = published_at
    last_inbound = (conversation or {}).get("last_inbound_at")
    summary = conversation_summary(
        conv_id,
        message,
        now,
        latest=not last_inbound or message["received_at"] >= last_inbound,
        identity=identity.summary_identity(here.identity, conversation),
    )
    if (conversation or {}).get("contact_name"):
        # The business named this contact in its app: that name stays (coexistence.py).
        summary.pop("display_name", None)
        summary.pop("display_name_lower", None)
    if here.conflicts:
        # The same user has another conversation too (they wrote from a new number before the
        # change was reported): an operator looks; the messages stay where they are.
        log.warning(
            "another conversation of the same user",
            extra={"conversation_id": conv_id, "others": here.conflicts},
        )
        summary.update({"needs_attention": True, "other_conversations": list(here.conflicts)})
    # A conversation counted but without `created_at` is being started by a message without a
    # job (its batch landed, the write of `created_at` not yet): that writer counts it.
    starts = not (conversation or {}).get("created_at") and not (conversation or {}).get("message_count")
    if starts:
        summary["created_at"] = message["received_at"]
    return Arrival(message, fields, summary, starts, here.links)


def add_arrival_counters(
    writes: stats.Writes, db: firestore.Client, arrival: Arrival, conv_id: str, message_id: str
) -> None:
    message = arrival.message
    counted = stats.inbound_message_stored(message["type"])
    stats.add_stat_increments(writes, db, message["received_at"], counted, message_id)
    if arrival.starts_conversation:
        stats.add_lifetime_increments(writes, db, stats.conversation_started(), conv_id)


@dataclass(frozen=True)
class JobArrival:
    """Where the job's message is (its user's conversation, which its job may not have named)
    and the message as stored."""

    conversation_id: str
    message: dict[str, Any]


def record_job_arrival(
    db: firestore.Client, conv_id: str, message_id: str, *, published_at: datetime | None = None
) -> JobArrival | None:
    """The first step of a consumer of an inbound message's job; None for an unknown message.

    The first time the job of this message arrives, one batch marks it published and received
    (`published_at` is the publisher's stamp) and applies the message to its conversation and the
    counters. The batch is conditional on the message being unchanged since it was read, and a
    new conversation on not existing yet, so two deliveries of the job (Pub/Sub's at-least-once)
    or a burst's first messages arriving together count once; a later arrival writes nothing.
    A message filed under an identifier that links to its user's conversation is moved there
    first (`identity.relocate`), and the arrival is recorded in that conversation.
    """
    for _ in range(ARRIVAL_ATTEMPTS):
        msg_ref = message_ref(db, conv_id, message_id)
        conv_ref = conversation_ref(db, conv_id)
        snaps = {snap.reference.path: snap for snap in db.get_all([msg_ref, conv_ref], **CALL)}
        msg_snap, conv_snap = snaps[msg_ref.path], snaps[conv_ref.path]
        message = msg_snap.to_dict() if msg_snap.exists else None
        conversation = conv_snap.to_dict() if conv_snap.exists else None
        if message is None:
            return None
        place = identity.resolve(db, conv_id, message, conversation, lambda refs: db.get_all(refs, **CALL))
        if isinstance(place, identity.Elsewhere):
            if identity.linked_to(message) is None:
                identity.relocate(db, conv_id, place.target, message_id, link=place.link)
            conv_id = place.target
            continue
        now = datetime.now(UTC)
        arrival = plan_arrival(conv_id, message, conversation, now, published_at, place)
        if arrival is None:
            return JobArrival(conv_id, message)
        batch = db.batch()
        batch.update(
            msg_ref, arrival.message_fields, option=db.write_option(last_update_time=msg_snap.update_time)
        )
        if conversation is None:
            batch.create(conv_ref, {**arrival.conversation, "message_count": 1})
        elif arrival.starts_conversation:  # written before its first message (an operator paused it, say)
            batch.update(
                conv_ref,
                {**arrival.conversation, "message_count": firestore.Increment(1)},
                option=db.write_option(last_update_time=conv_snap.update_time),
            )
        else:
            batch.set(conv_ref, {**arrival.conversation, "message_count": firestore.Increment(1)}, merge=True)
        identity.add_links(batch, db, arrival.links, conv_id, now)
        add_arrival_counters(batch, db, arrival, conv_id, message_id)
        try:
            batch.commit(**CALL)
        except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound):
            continue  # the message or the conversation changed under us: read both again
        if arrival.conversation.get("other_conversations"):
            identity.merge_others(db, conv_id, arrival.conversation)
        message = {**arrival.message, "job": {**arrival.message["job"], "state": JobState.PUBLISHED.value}}
        return JobArrival(conv_id, message)
    raise gexc.Aborted(f"the arrival of {message_id}'s job kept racing other writes")
