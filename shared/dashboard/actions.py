"""What an operator can change: pause or resume the AI, clear the flags, retry a message.

A retry starts a message's job again: one that failed, or one stuck unanswered (its media never
processed, its reply never finished, its job lost or dead-lettered; `store.jobs`). Each action is
one guarded write: a retry changes a message only if it is still the version the operator saw
(a precondition on its update time), so two operators clicking at once, or one clicking twice,
queue one retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.bus import Job, JobBus
from shared.dashboard.conversations import CONVERSATION_ID
from shared.dashboard.cursors import DOCUMENT_ID
from shared.store import jobs
from shared.store.schema import CALL, conversation_ref, message_ref

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    DONE = "done"
    NOT_FOUND = "not_found"
    NOT_FAILED = "not_failed"  # nothing to retry: it was retried already or never failed
    IN_PROGRESS = "in_progress"  # unanswered, but not for long: its job is still at it
    BUSY = "busy"  # changed while we looked; the operator should look again
    QUEUE_FAILED = "queue_failed"


@dataclass(frozen=True)
class FailedMessage:
    ref: firestore.DocumentReference
    snapshot: firestore.DocumentSnapshot

    @property
    def data(self) -> dict[str, Any]:
        return self.snapshot.to_dict() or {}


def _conversation(db: firestore.Client, conversation_id: str) -> firestore.DocumentReference | None:
    return conversation_ref(db, conversation_id) if CONVERSATION_ID.match(conversation_id) else None


def set_ai_paused(db: firestore.Client, conversation_id: str, paused: bool, operator: str) -> Outcome:
    """Pause or resume the AI; resuming also clears `needs_attention` and a waiting handoff (the
    operator has looked), and marks the time from which a new handoff may fire
    (shared/ai_reply/handoff.py)."""
    ref = _conversation(db, conversation_id)
    if ref is None:
        return Outcome.NOT_FOUND
    fields: dict[str, Any] = {
        "ai_paused": paused,
        "ai_paused_by": operator,
        "ai_paused_changed_at": datetime.now(UTC),
    }
    if not paused:
        fields["needs_attention"] = False
        fields["handoff_waiting"] = False
        fields["ai_resumed_at"] = fields["ai_paused_changed_at"]
    try:
        ref.update(fields, **CALL)
    except gexc.NotFound:
        return Outcome.NOT_FOUND
    log.info(
        "AI %s",
        "paused" if paused else "resumed",
        extra={"conversation_id": conversation_id, "operator": operator},
    )
    return Outcome.DONE


def clear_flags(db: firestore.Client, conversation_id: str, operator: str) -> Outcome:
    """The operator has dealt with what needed attention (failures included)."""
    ref = _conversation(db, conversation_id)
    if ref is None:
        return Outcome.NOT_FOUND
    try:
        ref.update(
            {
                "needs_attention": False,
                "has_failure": False,
                "handoff_waiting": False,  # a person has taken it: no longer first in the list
                "flags_cleared_by": operator,
            },
            **CALL,
        )
    except gexc.NotFound:
        return Outcome.NOT_FOUND
    return Outcome.DONE


def failed_message(db: firestore.Client, conversation_id: str, message_id: str) -> FailedMessage | None:
    conversation = _conversation(db, conversation_id)
    if conversation is None or not DOCUMENT_ID.match(message_id):
        return None
    ref = message_ref(db, conversation_id, message_id)
    snap = ref.get(**CALL)
    return FailedMessage(ref, snap) if snap.exists else None


def retry_inbound(
    db: firestore.Client,
    message: FailedMessage,
    *,
    conversation_id: str,
    reply_topic: str,
    media_topic: str,
    bus: JobBus,
    operator: str,
    force: bool = False,
) -> Outcome:
    """Start an inbound message's job again (`store.jobs.restart_job`) and publish it.

    `force` restarts an unsettled message however recently it moved: its job is known dead.
    """
    try:
        restart = jobs.restart_job(db, message.snapshot, conversation_id, operator=operator, force=force)
    except gexc.FailedPrecondition:
        return Outcome.BUSY
    if restart is jobs.Refused.SETTLED:
        return Outcome.NOT_FAILED
    if restart is jobs.Refused.IN_PROGRESS:
        return Outcome.IN_PROGRESS
    assert isinstance(restart, jobs.Restart)
    topic = media_topic if restart.kind is jobs.JobKind.MEDIA else reply_topic
    try:
        bus.publish(topic, Job(conversation_id, message.ref.id, reason="retry"))
    except Exception:
        # Without the job nobody would pick the message up: put it back so the button stays.
        log.exception("could not queue the retry", extra={"conversation_id": conversation_id})
        jobs.give_back(db, restart, message.data)
        return Outcome.QUEUE_FAILED
    log.info(
        "retry queued",
        extra={
            "conversation_id": conversation_id,
            "message_id": message.ref.id,
            "operator": operator,
            "job": restart.kind.value,
        },
    )
    return Outcome.DONE
