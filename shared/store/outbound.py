"""Recording messages the business sent: the assistant's replies and operators' hand-written ones.

Like every other writer, these add their writes to the caller's batch (`add_*`), so a message is
recorded in one atomic commit with whatever goes with it (the reply record's progress, the
operator's send claim). After the commit the caller applies the statuses that may have arrived
before the message was recorded (`statuses.apply_parked_statuses`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.store import stats
from shared.store.documents import PREVIEW_CHARS
from shared.store.schema import (
    CALL,
    Direction,
    InboundStatus,
    SentBy,
    conversation_ref,
    message_ref,
    messages,
    operator_send_ref,
)
from shared.whatsapp.models import DeliveryStatus

OPERATOR_SEND_RETENTION = timedelta(days=2)  # a double submission comes within seconds, not days
WAITING_LIMIT = 400  # well under a batch's 500 writes, with room for the message and its counters


def outbound_document(
    *,
    wamid: str | None,
    text: str,
    sent_by: SentBy,
    to: str,
    status: DeliveryStatus | str,
    now: datetime,
    reply_to: str | None = None,
    ai_response_id: str | None = None,
    operator: str | None = None,
    error: dict[str, Any] | None = None,
    template: dict[str, Any] | None = None,
    interactive: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "wamid": wamid,
        "direction": Direction.OUTBOUND.value,
        "type": "template" if template else "interactive" if interactive else "text",
        "text": text,
        "to": to,
        "sent_by": sent_by.value,
        "status": str(status),
        "status_times": {str(status): now},
        "created_at": now,
        "reply_to": reply_to,
        "ai_response_id": ai_response_id,
        "error": error,
    }
    if operator:
        doc["operator"] = operator
    if template:
        doc["template"] = template  # name, language, category and the values it was filled with
    if interactive:
        doc["interactive"] = interactive  # the choices as sent (shared/whatsapp/interactive.py)
    return doc


def add_outbound(
    batch: firestore.WriteBatch,
    db: firestore.Client,
    *,
    conversation_id: str,
    wamid: str,
    text: str,
    sent_by: SentBy,
    to: str,
    reply_to: str | None = None,
    ai_response_id: str | None = None,
    operator: str | None = None,
    answers: list[firestore.DocumentReference] = (),  # type: ignore[assignment]
    template: dict[str, Any] | None = None,
    interactive: dict[str, Any] | None = None,
) -> None:
    """A message WhatsApp accepted, its conversation's summary and counters, as writes of `batch`.

    A `template` message (name, language, category, values) records its filled text as `text`.

    `answers` are the inbound messages it settles: an operator's message answers whatever the
    customer was still waiting on (`waiting_messages`), so the assistant does not answer those
    again once the AI is resumed.
    """
    now = datetime.now(UTC)
    document = outbound_document(
        wamid=wamid,
        text=text,
        sent_by=sent_by,
        to=to,
        status=DeliveryStatus.ACCEPTED,
        now=now,
        reply_to=reply_to,
        ai_response_id=ai_response_id,
        operator=operator,
        template=template,
        interactive=interactive,
    )
    batch.set(message_ref(db, conversation_id, wamid), document)
    batch.set(
        conversation_ref(db, conversation_id),
        {
            "last_message_at": now,
            "last_message_preview": " ".join(text.split())[:PREVIEW_CHARS],
            "message_count": firestore.Increment(1),
            "awaiting_reply": False,
        },
        merge=True,
    )
    for ref in answers:
        batch.update(ref, {"status": InboundStatus.ANSWERED.value, "answered_by": sent_by.value})
    counted = stats.outbound_message_recorded(sent_by.value)
    if template:
        counted[f"templates_sent_by_category.{str(template.get('category') or 'unknown').lower()}"] = 1
    stats.add_stat_increments(batch, db, now, counted, wamid)


def add_failed_send(
    batch: firestore.WriteBatch,
    db: firestore.Client,
    *,
    conversation_id: str,
    record_id: str,
    text: str,
    sent_by: SentBy,
    to: str,
    error: dict[str, Any],
    ai_response_id: str | None = None,
) -> None:
    """A message WhatsApp refused: kept (without a wamid) so operators see what did not go out."""
    now = datetime.now(UTC)
    document = outbound_document(
        wamid=None,
        text=text,
        sent_by=sent_by,
        to=to,
        status=DeliveryStatus.FAILED,
        now=now,
        ai_response_id=ai_response_id,
        error=error,
    )
    batch.set(message_ref(db, conversation_id, record_id), document)
    batch.set(
        conversation_ref(db, conversation_id),
        {"has_failure": True, "needs_attention": True, "last_message_at": now},
        merge=True,
    )
    stats.add_stat_increments(batch, db, now, stats.message_failed("outbound"), record_id)


# An operator's send WhatsApp never answered: it may or may not have gone out, and nothing will
# tell (its wamid never came back). Kept as such, never sent again by a second click.
UNKNOWN_OUTCOME = "unknown"


def add_unknown_send(
    batch: firestore.WriteBatch,
    db: firestore.Client,
    *,
    conversation_id: str,
    record_id: str,
    text: str,
    sent_by: SentBy,
    to: str,
    error: dict[str, Any],
    operator: str | None = None,
) -> None:
    """A send whose outcome is unknown, kept (without a wamid) with the conversation flagged, so an
    operator checks with the customer instead of sending it again."""
    now = datetime.now(UTC)
    document = outbound_document(
        wamid=None,
        text=text,
        sent_by=sent_by,
        to=to,
        status=UNKNOWN_OUTCOME,
        now=now,
        operator=operator,
        error=error,
    )
    batch.set(message_ref(db, conversation_id, record_id), document)
    batch.set(
        conversation_ref(db, conversation_id),
        {"needs_attention": True, "last_message_at": now},
        merge=True,
    )


def waiting_messages(db: firestore.Client, conversation_id: str) -> list[firestore.DocumentReference]:
    """Inbound messages of the conversation still waiting for an answer."""
    query = messages(db, conversation_id).where(filter=FieldFilter("status", "==", InboundStatus.READY.value))
    return [snap.reference for snap in query.limit(WAITING_LIMIT).stream(**CALL)]


# -- an operator's send, claimed once ----------------------------------------------------------------


def claim_operator_send(
    db: firestore.Client, conversation_id: str, key: str, operator: str
) -> firestore.DocumentReference | None:
    """Claim the one-time key of an operator's reply form; None when it was claimed already.

    The claim is created before WhatsApp is called, so a second submission of the same form (a
    double click, a reload, two tabs) finds it and sends nothing.
    """
    ref = operator_send_ref(db, conversation_id, key)
    now = datetime.now(UTC)
    try:
        ref.create(
            {
                "operator": operator,
                "claimed_at": now,
                "wamid": None,
                "expire_at": now + OPERATOR_SEND_RETENTION,
            },
            **CALL,
        )
    except gexc.AlreadyExists:
        return None
    return ref


def add_operator_send_done(
    batch: firestore.WriteBatch, claim: firestore.DocumentReference, wamid: str
) -> None:
    """The claimed send went out as `wamid` (written with the outbound message it produced)."""
    batch.update(claim, {"wamid": wamid})


def release_operator_send(claim: firestore.DocumentReference) -> None:
    """WhatsApp refused the message, so it is known not sent: the operator may press Send again."""
    claim.delete(**CALL)


def add_operator_send_unknown(batch: firestore.WriteBatch, claim: firestore.DocumentReference) -> None:
    """The claimed send may have gone out: the claim stays, so the same form never sends again."""
    batch.update(claim, {"outcome": UNKNOWN_OUTCOME})
