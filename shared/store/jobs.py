"""How an inbound message's job ends when it cannot end well, and how it is started again.

No job ends unsettled: a job that outlived its age, or that ran out of attempts (each counted
before its work starts, so an instance killed mid-work still counts), leaves its message
`failed` with the reason and its conversation flagged for an operator (`fail_unsettled`). An
operator (a Retry on the dashboard) or a dead letter's replay starts a message's unfinished job
again with its attempts back at zero (`restart_job`): it is published again by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.store import stats
from shared.store.schema import (
    CALL,
    CALL_TIMEOUT,
    Direction,
    InboundStatus,
    MediaStatus,
    ai_responses,
    conversation_ref,
    message_ref,
)

UNSETTLED = frozenset({InboundStatus.RECEIVED.value, InboundStatus.READY.value})
# Reply records still being worked on (replies.ReplyState without the import cycle).
OPEN_REPLY_STATES = frozenset({"generating", "generated"})
# Media failures a new attempt may cure: nothing about the file itself was refused.
TRANSIENT_MEDIA_FAILURES = frozenset({"unavailable", "unfinished", "too_old"})
# A message still unsettled this long after it arrived (or was last retried) is stuck: its job
# is waiting out a backoff, dead-lettered or lost. Shorter, and a Retry would race a job still
# working on it (a long video takes minutes); harmless, but pointless.
STUCK_AFTER = timedelta(minutes=10)


class JobKind(StrEnum):
    MEDIA = "media"
    REPLY = "reply"


def flag_conversation(writes: Any, db: firestore.Client, conversation_id: str) -> None:
    """The conversation needs an operator: something in it failed."""
    writes.set(
        conversation_ref(db, conversation_id), {"has_failure": True, "needs_attention": True}, merge=True
    )


# -- attempts ----------------------------------------------------------------------------------------


def count_media_attempt(db: firestore.Client, conversation_id: str, message_id: str) -> int:
    """Count one more attempt at a message's media, before the work starts; returns the count.

    One batched write, whose transform result is the new count: no read needed.
    """
    batch = db.batch()
    batch.update(
        message_ref(db, conversation_id, message_id),
        {"media.attempts": firestore.Increment(1), "media.attempt_started_at": datetime.now(UTC)},
    )
    (result,) = batch.commit(**CALL)
    transforms = list(result.transform_results)
    return int(transforms[0].integer_value) if transforms else 0


# -- settling ------------------------------------------------------------------------------------------


def fail_unsettled(
    db: firestore.Client,
    conversation_id: str,
    message_id: str,
    error: dict[str, Any],
    *,
    media_fields: dict[str, Any] | None = None,
) -> bool:
    """Fail a message no job will finish, and flag its conversation; False when it is settled already.

    Conditional on the message being unchanged since it was read, so a job finishing it meanwhile
    (an operator's reply, a late delivery) is never overwritten; a race is looked at again.
    """
    ref = message_ref(db, conversation_id, message_id)
    for _ in range(3):
        snap = ref.get(**CALL)
        data = snap.to_dict() if snap.exists else None
        if data is None or data.get("status") not in UNSETTLED or data.get("direction") == Direction.OUTBOUND:
            return False
        fields: dict[str, Any] = {
            "status": InboundStatus.FAILED.value,
            "error": error,
            **(media_fields or {}),
        }
        batch = db.batch()
        batch.update(ref, fields, option=db.write_option(last_update_time=snap.update_time))
        flag_conversation(batch, db, conversation_id)
        stats.add_stat_increments(batch, db, datetime.now(UTC), stats.message_failed("inbound"), message_id)
        try:
            batch.commit(**CALL)
        except gexc.FailedPrecondition:
            continue
        return True
    return False


def too_old_error(age_seconds: float) -> dict[str, Any]:
    hours = age_seconds / 3600
    return {
        "code": "too_old",
        "title": "Not answered: its job was lost for too long",
        "detail": f"The job for this message was {hours:.1f} hours old when it arrived; it was not run. Retry it to have it answered now.",
    }


# -- starting a job again --------------------------------------------------------------------------


def _last_moved(data: dict[str, Any]) -> datetime | None:
    """When the message last started on its way: it arrived, or an operator retried it."""
    times = [t for t in (data.get("received_at"), data.get("retried_at")) if isinstance(t, datetime)]
    return max(times, default=None)


def is_stuck(data: dict[str, Any], now: datetime) -> bool:
    """An inbound message unsettled for longer than any job of it takes when all goes well."""
    if data.get("direction") == Direction.OUTBOUND or data.get("status") not in UNSETTLED:
        return False
    moved = _last_moved(data)
    return moved is None or now - moved >= STUCK_AFTER


def can_restart(data: dict[str, Any], now: datetime) -> bool:
    """Whether an operator may start this message's job again: it failed, or it is stuck."""
    if data.get("direction") == Direction.OUTBOUND:
        return False
    return data.get("status") == InboundStatus.FAILED or is_stuck(data, now)


class Refused(StrEnum):
    SETTLED = "settled"  # answered, ignored, outbound: no job to start again
    IN_PROGRESS = "in_progress"  # unsettled, but not for long: its job is most likely still at it


@dataclass(frozen=True)
class Restart:
    kind: JobKind  # which topic the caller publishes to
    conversation_id: str
    message_id: str


def restart_job(
    db: firestore.Client,
    snapshot: firestore.DocumentSnapshot,
    conversation_id: str,
    *,
    operator: str,
    force: bool = False,
) -> Restart | Refused:
    """Ready an inbound message's job for another run, its attempts at zero.

    Media not prepared yet (or failed for a reason a new attempt may cure) goes back to the media
    function; otherwise the message goes to the reply function: a failed one as a deliberate
    retry (`retry_count`, so a new reply is written), a waiting one to the reply record already
    working on it, which keeps what it did (an answer stored, parts sent) and gets new attempts.
    An unsettled message is restarted only once it is stuck, unless `force` (its job is known to
    be dead: a dead letter being replayed).

    Raises FailedPrecondition when the message changed since `snapshot` was read.
    """
    data = snapshot.to_dict() or {}
    now = datetime.now(UTC)
    if data.get("direction") == Direction.OUTBOUND or data.get("status") not in {*UNSETTLED, "failed"}:
        return Refused.SETTLED
    if not force and not can_restart(data, now):
        return Refused.IN_PROGRESS
    media = data.get("media") if isinstance(data.get("media"), dict) else None
    fields: dict[str, Any] = {"retried_at": now, "retried_by": operator, "error": None}
    media_again = media is not None and (
        media.get("status") == MediaStatus.PENDING
        or (
            media.get("status") == MediaStatus.FAILED
            and media.get("failure_code") in TRANSIENT_MEDIA_FAILURES
        )
    )
    if media_again:
        fields |= {
            "status": InboundStatus.RECEIVED.value,
            "media.status": MediaStatus.PENDING.value,
            "media.attempts": 0,
            "media.failure_reason": firestore.DELETE_FIELD,
            "media.failure_code": firestore.DELETE_FIELD,
        }
        kind = JobKind.MEDIA
    else:
        fields["status"] = InboundStatus.READY.value
        if data.get("status") == InboundStatus.FAILED:
            fields["retry_count"] = firestore.Increment(1)
        kind = JobKind.REPLY
    snapshot.reference.update(
        fields, option=db.write_option(last_update_time=snapshot.update_time), timeout=CALL_TIMEOUT
    )
    if kind is JobKind.REPLY and data.get("status") == InboundStatus.READY:
        _reset_open_replies(db, conversation_id, snapshot.id)
    return Restart(kind, conversation_id, snapshot.id)


def _reset_open_replies(db: firestore.Client, conversation_id: str, message_id: str) -> None:
    """The replies still being worked on for this message get their attempts back."""
    query = ai_responses(db, conversation_id).where(
        filter=FieldFilter("message_ids", "array_contains", message_id)
    )
    for snap in query.stream(**CALL):
        if (snap.to_dict() or {}).get("state") in OPEN_REPLY_STATES:
            snap.reference.update({"attempts": 0}, **CALL)


def give_back(db: firestore.Client, restart: Restart, previous: dict[str, Any]) -> None:
    """The job could not be published: the message as it was, so the operator's button stays."""
    fields: dict[str, Any] = {
        name: previous.get(name, firestore.DELETE_FIELD)
        for name in ("status", "error", "retried_at", "retried_by", "retry_count")
    }
    if restart.kind is JobKind.MEDIA and isinstance(previous.get("media"), dict):
        fields["media.status"] = previous["media"].get("status")
    message_ref(db, restart.conversation_id, restart.message_id).update(fields, **CALL)
