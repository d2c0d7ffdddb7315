"""Recording messages the business sent: the assistant's replies and operators' hand-written ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.store import stats
from shared.store.base import CALL_RETRY, CALL_TIMEOUT, CONVERSATIONS, MESSAGES
from shared.store.documents import PREVIEW_CHARS
from shared.store.statuses import apply_parked_statuses


def outbound_document(
    *,
    wamid: str | None,
    text: str,
    sent_by: str,
    to: str,
    status: str,
    now: datetime,
    reply_to: str | None = None,
    ai_response_id: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "wamid": wamid,
        "direction": "outbound",
        "type": "text",
        "text": text,
        "to": to,
        "sent_by": sent_by,  # "ai" | "operator"
        "status": status,
        "status_times": {status: now},
        "created_at": now,
        "reply_to": reply_to,
        "ai_response_id": ai_response_id,
        "error": error,
    }


def record_outbound(
    db: firestore.Client,
    *,
    conversation_id: str,
    wamid: str,
    text: str,
    sent_by: str,
    to: str,
    phone_number_id: str,
    reply_to: str | None = None,
    ai_response_id: str | None = None,
    also: Callable[[firestore.WriteBatch], None] | None = None,
) -> None:
    """Store a message WhatsApp accepted, then apply any status that arrived before this write.

    `also` adds the caller's own writes to the same atomic batch (the reply record's progress).

    An operator's message answers whatever the customer was still waiting on, so the assistant
    does not answer those messages again once the AI is resumed.
    """
    now = datetime.now(UTC)
    message = outbound_document(
        wamid=wamid,
        text=text,
        sent_by=sent_by,
        to=to,
        status="accepted",
        now=now,
        reply_to=reply_to,
        ai_response_id=ai_response_id,
    )
    conversation: dict[str, Any] = {
        "last_message_at": now,
        "last_message_preview": " ".join(text.split())[:PREVIEW_CHARS],
        "message_count": firestore.Increment(1),
    }
    settled = _waiting_messages(db, conversation_id) if sent_by == "operator" else []
    counted = stats.outbound_message_recorded(sent_by)
    _write(db, conversation_id, wamid, message, conversation, settled, counted, also)
    apply_parked_statuses(db, phone_number_id, wamid, to)


def record_failed_send(
    db: firestore.Client,
    *,
    conversation_id: str,
    record_id: str,
    text: str,
    sent_by: str,
    to: str,
    error: dict[str, Any],
    ai_response_id: str | None = None,
) -> None:
    """A message WhatsApp refused: kept (without a wamid) so operators see what did not go out."""
    now = datetime.now(UTC)
    message = outbound_document(
        wamid=None,
        text=text,
        sent_by=sent_by,
        to=to,
        status="failed",
        now=now,
        ai_response_id=ai_response_id,
        error=error,
    )
    conversation = {"has_failure": True, "needs_attention": True, "last_message_at": now}
    _write(db, conversation_id, record_id, message, conversation, [], stats.message_failed("outbound"))


def _waiting_messages(db: firestore.Client, conversation_id: str) -> list[firestore.DocumentReference]:
    messages = db.collection(CONVERSATIONS).document(conversation_id).collection(MESSAGES)
    query = messages.where(filter=FieldFilter("status", "==", "ready")).limit(400)
    return [snap.reference for snap in query.stream(retry=CALL_RETRY, timeout=CALL_TIMEOUT)]


def _write(
    db: firestore.Client,
    conversation_id: str,
    message_id: str,
    message: dict[str, Any],
    conversation: dict[str, Any],
    answered: list[firestore.DocumentReference],
    counted: dict[str, stats.Number],
    also: Callable[[firestore.WriteBatch], None] | None = None,
) -> None:
    """The message, its conversation, the messages it answers and its counters, in one atomic batch."""
    conv_ref = db.collection(CONVERSATIONS).document(conversation_id)
    batch = db.batch()
    batch.set(conv_ref.collection(MESSAGES).document(message_id), message)
    batch.set(conv_ref, conversation, merge=True)
    for ref in answered:
        batch.update(ref, {"status": "answered", "answered_by": "operator"})
    stats.add_stat_increments(batch, db, message["created_at"], counted, message_id)
    if also is not None:
        also(batch)
    batch.commit(retry=CALL_RETRY, timeout=CALL_TIMEOUT)
