"""A reply job: answer every ready message of a conversation, once, in as few replies as possible.

The job only names a conversation. Whoever holds the conversation's reply lease answers all
its ready, unanswered inbound messages in one reply (`burst.BurstReply`), then looks again
before letting go, so a burst of messages gets one answer and a message arriving mid-reply gets
the next one. A job that finds the lease taken leaves its message to the holder; one such job
per busy spell (the conversation's waiter) is delivered again until the holder lets go or its
lease runs out, so a holder that died still leaves someone to answer. A round starts only while
the job's deadline has the time for a whole one (`budget.round_seconds`); otherwise the
conversation is handed to a new job, so no job runs into the function's timeout. A job older
than `JOB_MAX_AGE_SECONDS` fails its message, flagged, instead of answering it hours late. The
guarantees, and the one window they cannot close, are in docs/reply-guarantees.md.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import timedelta

from shared.ai_reply import guard, resume
from shared.ai_reply.budget import job_deadline, round_seconds
from shared.ai_reply.burst import BurstReply, LeaseLost
from shared.ai_reply.reengage import reengage
from shared.bus import Job, ReceivedJob, Redeliver
from shared.clients import Clients
from shared.config import Settings
from shared.store import identity, jobs, replies
from shared.store.inbound import record_job_arrival
from shared.store.replies import LeaseOutcome

log = logging.getLogger(__name__)

REENGAGE_REASON = "reengage"  # published by the webhook (shared/webhook/ingest.py)
MAX_MOVES = 3  # a message is moved at most once; a link leads straight to its conversation

_INSTANCE = f"{socket.gethostname()}-{os.getpid()}"


def handle_reply_job(received: ReceivedJob, settings: Settings, clients: Clients) -> None:
    """Process one job. Returns when done or when the job is unusable; raises to have it redelivered."""
    deadline = job_deadline(settings)
    job = received.job
    context = {"conversation_id": job.conversation_id, "message_id": job.message_id, "reason": job.reason}
    db = clients.firestore
    if job.reason == REENGAGE_REASON:
        # A part of a reply came back failed with 131047 (the webhook saw it): re-engage once.
        outcome = reengage(settings, clients, job.conversation_id)
        log.info("re-engagement after a failed status", extra={**context, "outcome": outcome})
        return
    # The job's arrival brings its message into the conversation's summary and the counters, and
    # tells a repeat delivery of the webhook that the job is out. It rides the lease transaction
    # below; a job that will not get there at once records it on its own first.
    if job.reason == resume.SWEEP:
        if received.age_seconds() <= settings.job_max_age_seconds:  # a later sweep does it anyway
            resume.sweep(settings, clients)
        return
    too_old = received.age_seconds() > settings.job_max_age_seconds
    conversation_id = job.conversation_id
    if job.reason == "record":
        # A message recorded, never answered (a reaction, an identity change): its arrival is all.
        record_job_arrival(db, conversation_id, job.message_id, published_at=received.published_at)
        return
    if job.message_id and (too_old or settings.reply_debounce_ms > 0):
        arrived = record_job_arrival(db, conversation_id, job.message_id, published_at=received.published_at)
        conversation_id = arrived.conversation_id if arrived else conversation_id
    if conversation_id != job.conversation_id:
        job = Job(conversation_id, job.message_id, job.reason, job.published_at)
        received = ReceivedJob(job, received.pubsub_message_id, received.published_at)
        context["conversation_id"] = conversation_id
    if too_old:
        _fail_too_old(received, clients, context)
        return
    if settings.reply_debounce_ms > 0:
        time.sleep(settings.reply_debounce_ms / 1000)  # let the rest of a burst arrive first

    holder = f"{_INSTANCE}-{uuid.uuid4().hex[:8]}"
    lease = timedelta(seconds=settings.reply_lease_seconds)
    for _ in range(MAX_MOVES):
        outcome, conversation = replies.acquire_lease(
            db,
            job.conversation_id,
            holder,
            lease,
            arriving=job.message_id or None,
            published_at=received.published_at,
            waiter=received.pubsub_message_id or f"{job.message_id}@{job.published_at}",
        )
        if outcome is not LeaseOutcome.MOVED:
            break
        # The message was filed under an identifier of a user whose conversation is elsewhere.
        target = conversation[identity.LINK]
        if job.message_id and identity.linked_to(conversation.get("message")) is None:
            identity.relocate(db, job.conversation_id, target, job.message_id, link=conversation["link"])
        job = Job(target, job.message_id, job.reason, job.published_at)
        context["conversation_id"] = target
    else:
        raise RuntimeError(f"the conversation of {job.message_id} kept moving")
    if conversation.get("other_conversations"):
        identity.merge_others(db, job.conversation_id, conversation)  # before its messages are read
    if outcome is LeaseOutcome.WAIT:
        log.info("reply lease taken; this job watches it until its holder lets go", extra=context)
        raise Redeliver("another instance holds the conversation's reply lease")
    if outcome is LeaseOutcome.PAUSED:
        # An operator answers this conversation; a STOP is honoured all the same (no confirmation:
        # the operator sees the message and the state).
        guard.record_keyword(
            settings, db, job.conversation_id, replies.ready_messages(db, job.conversation_id)
        )
    if outcome is not LeaseOutcome.ACQUIRED:
        level = logging.WARNING if outcome is LeaseOutcome.MISSING else logging.INFO
        log.log(level, f"no reply generated: {outcome.value}", extra=context)
        return

    burst_writer = BurstReply(settings, clients, job.conversation_id, conversation, holder, deadline)
    try:
        while True:
            burst = replies.ready_messages(db, job.conversation_id)
            if burst:
                burst_writer.answer(burst)
            if replies.release_lease(db, job.conversation_id, holder, lease):
                return
            # More was asked for while this round ran: go round again if a whole round still fits.
            if deadline.remaining() < round_seconds(settings):
                _hand_over(settings, clients, job.conversation_id, holder, context)
                return
    except LeaseLost:
        log.warning("reply lease lost; the new holder finishes", extra=context)
    except BaseException:
        replies.drop_lease(db, job.conversation_id, holder)
        raise


def _fail_too_old(received: ReceivedJob, clients: Clients, context: dict) -> None:
    """A job lost for longer than any redelivery could take: its message is not answered hours
    late, it is failed and its conversation flagged, and an operator decides (Retry answers it)."""
    job = received.job
    age = received.age_seconds()
    log.error(
        "reply job too old; its messages are failed, not answered", extra={**context, "age_s": round(age)}
    )
    db = clients.firestore
    waiting = (
        [job.message_id]
        if job.message_id
        else [m["id"] for m in replies.ready_messages(db, job.conversation_id)]
    )
    for message_id in waiting:
        jobs.fail_unsettled(db, job.conversation_id, message_id, jobs.too_old_error(age))


def _hand_over(
    settings: Settings, clients: Clients, conversation_id: str, holder: str, context: dict
) -> None:
    """Too little time left for another round: a new job answers what is waiting."""
    log.info("another round would not fit in this job; handed to a new job", extra=context)
    replies.drop_lease(clients.firestore, conversation_id, holder)
    clients.bus.publish(settings.reply_topic, Job(conversation_id, reason="follow_up"))
