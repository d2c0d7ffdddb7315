"""Recording messages the business sent: the assistant's replies and operators' hand-written ones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

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
) -> None:
    """Store a message WhatsApp accepted, then apply any status that arrived before this write."""
    now = datetime.now(UTC)
    conv_ref = db.collection(CONVERSATIONS).document(conversation_id)
    batch = db.batch()
    batch.set(
        conv_ref.collection(MESSAGES).document(wamid),
        outbound_document(
            wamid=wamid,
            text=text,
            sent_by=sent_by,
            to=to,
            status="accepted",
            now=now,
            reply_to=reply_to,
            ai_response_id=ai_response_id,
        ),
    )
    conversation: dict[str, Any] = {
        "last_message_at": now,
        "last_message_preview": " ".join(text.split())[:PREVIEW_CHARS],
        "message_count": firestore.Increment(1),
    }
    batch.set(conv_ref, conversation, merge=True)
    batch.commit(retry=CALL_RETRY, timeout=CALL_TIMEOUT)
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
    conv_ref = db.collection(CONVERSATIONS).document(conversation_id)
    batch = db.batch()
    batch.set(
        conv_ref.collection(MESSAGES).document(record_id),
        outbound_document(
            wamid=None,
            text=text,
            sent_by=sent_by,
            to=to,
            status="failed",
            now=now,
            ai_response_id=ai_response_id,
            error=error,
        ),
    )
    batch.set(conv_ref, {"has_failure": True, "needs_attention": True, "last_message_at": now}, merge=True)
    batch.commit(retry=CALL_RETRY, timeout=CALL_TIMEOUT)
