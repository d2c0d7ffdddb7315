"""The assistant steps back while a human talks: a pause by human reply, and its end.

When the owner writes from the WhatsApp Business app (an echo) or an operator from the
dashboard, the conversation records who and when (`human_reply_by`, `human_reply_at`) and the
assistant does not answer until `human_reply_until` (HUMAN_REPLY_PAUSE_MINUTES later); every
further human message moves it on. The same time is kept in `resume_at` until someone acts on it:
a sweep (`due_resumes`, run every minute by Cloud Scheduler through the reply topic) claims each
conversation whose pause ran out and starts a reply job there, which answers whatever the
customer is still waiting on. What a human answered is not waiting: their message settles the
messages before it (`outbound.waiting_messages`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.store.schema import CALL, CALL_TIMEOUT, SentBy, conversation_ref, conversations

SWEEP_LIMIT = 200  # conversations resumed per sweep; the next sweep, a minute later, takes the rest


def human_reply(now: datetime, minutes: float, by: SentBy) -> dict[str, Any]:
    """The conversation's fields after a human's message."""
    fields: dict[str, Any] = {"human_reply_at": now, "human_reply_by": by.value}
    if minutes > 0:
        until = now + timedelta(minutes=minutes)
        fields.update(human_reply_until=until, resume_at=until)
    return fields


def paused_by_human(conversation: Mapping[str, Any] | None, now: datetime) -> bool:
    until = (conversation or {}).get("human_reply_until")
    return isinstance(until, datetime) and until > now


def due_resumes(db: firestore.Client, now: datetime, limit: int = SWEEP_LIMIT) -> list[str]:
    """Conversations whose pause by human reply has run out, not resumed yet, oldest first."""
    query = (
        conversations(db).where(filter=FieldFilter("resume_at", "<=", now)).order_by("resume_at").limit(limit)
    )
    return [snap.id for snap in query.stream(**CALL)]


def claim_resume(db: firestore.Client, conversation_id: str, now: datetime) -> bool:
    """Take the resume of this conversation: True for the one sweep that gets to start its job.
    A human message since the query moved `resume_at` on: then it is not due any more."""
    ref = conversation_ref(db, conversation_id)
    snap = ref.get(**CALL)
    resume_at = snap.get("resume_at") if snap.exists else None
    if not isinstance(resume_at, datetime) or resume_at > now:
        return False
    try:
        ref.update(
            {"resume_at": firestore.DELETE_FIELD},
            option=db.write_option(last_update_time=snap.update_time),
            timeout=CALL_TIMEOUT,
        )
    except gexc.FailedPrecondition:
        return False  # changed meanwhile (another sweep, a new message): the next sweep looks again
    return True
