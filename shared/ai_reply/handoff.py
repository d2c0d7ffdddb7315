"""A handoff by the assistant: the conversation paused, flagged with the reason, shown first.

The model asks for one in its answer (`handoff` in the envelope). It takes effect in the same
batch that stores the answer, so the pause holds before the handoff message goes out and a
redelivered job finds both done. The AI resumes only when an operator resumes it. Messages
that were waiting when it fired, or arrived while it was paused, never start another: after a
resume, a handoff is honoured only for a burst with a message received since.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from shared.store.schema import conversation_ref


def honoured(conversation: Mapping[str, Any], burst: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a handoff asked for in answer to `burst` takes effect: not for messages already
    handed over (or waiting during that handoff's pause)."""
    previous = conversation.get("handoff")
    if not isinstance(previous, Mapping) or not isinstance(previous.get("at"), datetime):
        return True
    since = previous["at"]
    resumed = conversation.get("ai_resumed_at")
    if isinstance(resumed, datetime) and resumed > since:
        since = resumed
    newest = max(
        (m["received_at"] for m in burst if isinstance(m.get("received_at"), datetime)), default=None
    )
    return newest is not None and newest > since


def add_handoff(
    batch: firestore.WriteBatch, db: firestore.Client, conversation_id: str, *, reason: str, reply_id: str
) -> None:
    """Pause and flag the conversation, as a write of the batch that stores the answer."""
    now = datetime.now(UTC)
    batch.set(
        conversation_ref(db, conversation_id),
        {
            "ai_paused": True,
            "ai_paused_by": "assistant",
            "ai_paused_changed_at": now,
            "needs_attention": True,
            "handoff": {"reason": reason, "at": now, "reply_id": reply_id},
            "handoff_waiting": True,
            "handoff_at": now,
        },
        merge=True,
    )
