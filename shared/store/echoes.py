"""Messages the business wrote itself, outside this system (its own phone, WhatsApp Web), as
WhatsApp reports them back: recorded as outbound, and the AI paused for their conversation.

A person of the business is talking to the customer; the assistant answering beside them would
talk over them. The pause is the same one an operator sets on the dashboard (`ai_paused`), named
by who set it, and the messages the customer was still waiting on count as answered by them.
Recording is idempotent (the message id is the document id): a redelivered echo changes nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.store import stats
from shared.store.documents import PREVIEW_CHARS
from shared.store.outbound import outbound_document, waiting_messages
from shared.store.schema import (
    CALL,
    InboundStatus,
    SentBy,
    conversation_id,
    conversation_ref,
    expire_at,
    message_ref,
)
from shared.whatsapp.models import DeliveryStatus

log = logging.getLogger(__name__)

PAUSED_BY = "the business's phone"  # `ai_paused_by`, as the dashboard shows it


def record_business_echo(
    db: firestore.Client,
    phone_number_id: str,
    *,
    wamid: str,
    customer: str,
    text: str,
    message_type: str,
    sent_at: datetime,
    retention_days: int,
) -> bool:
    """Record one message the business typed on its phone; False when it was recorded before."""
    now = datetime.now(UTC)
    conv_id = conversation_id(phone_number_id, customer)
    document = outbound_document(
        wamid=wamid,
        text=text,
        sent_by=SentBy.BUSINESS_APP,
        to=customer,
        status=DeliveryStatus.SENT,  # it is on WhatsApp's server: WhatsApp told us about it
        now=now,
    )
    document["echo_type"] = message_type  # the thread shows its text ("[image] caption" for media)
    document["timestamp"] = sent_at
    if (expiry := expire_at(now, retention_days)) is not None:
        document["expire_at"] = expiry
    batch = db.batch()
    batch.create(message_ref(db, conv_id, wamid), document)
    batch.set(
        conversation_ref(db, conv_id),
        {
            "wa_id": customer,
            "phone_number_id": phone_number_id,
            "last_message_at": now,
            "last_message_preview": " ".join(text.split())[:PREVIEW_CHARS],
            "message_count": firestore.Increment(1),
            "ai_paused": True,
            "ai_paused_by": PAUSED_BY,
            "ai_paused_changed_at": now,
        },
        merge=True,
    )
    for ref in waiting_messages(db, conv_id):
        batch.update(ref, {"status": InboundStatus.ANSWERED.value, "answered_by": SentBy.BUSINESS_APP.value})
    stats.add_stat_increments(
        batch, db, now, stats.outbound_message_recorded(SentBy.BUSINESS_APP.value), wamid
    )
    try:
        batch.commit(**CALL)
    except gexc.AlreadyExists:
        return False
    log.info(
        "the business wrote from its phone; AI paused for the conversation",
        extra={"conversation_id": conv_id, "wamid": wamid},
    )
    return True


def mark_revoked(
    db: firestore.Client, phone_number_id: str, *, wamid: str, customer: str, revoked_at: datetime
) -> bool:
    """A message deleted for everyone: kept for the record, marked so; False when unknown here."""
    ref = message_ref(db, conversation_id(phone_number_id, customer), wamid)
    try:
        ref.update({"revoked": True, "revoked_at": revoked_at}, **CALL)
    except gexc.NotFound:
        return False
    return True
