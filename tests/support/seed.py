"""Test data written the way the rest of the system writes it.

Inbound messages go through the webhook's own parser and writer (`parse_delivery` and
`record_inbound`), outbound ones through the store's `add_outbound` as the senders use it, so the
dashboard is tested against the documents production stores, not against a hand-made imitation.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from shared.store.inbound import record_inbound
from shared.store.outbound import add_failed_send, add_outbound, waiting_messages
from shared.store.schema import CALL, SentBy, ai_responses, conversation_id, conversation_ref, message_ref
from shared.store.statuses import apply_parked_statuses
from shared.whatsapp.parse import parse_delivery

PHONE_NUMBER_ID = "100000000000001"
_counter = itertools.count(1)


def envelope(wa_id: str, name: str, message: dict[str, Any], phone_number_id: str = PHONE_NUMBER_ID) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "200000000000001",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550001234",
                                    "phone_number_id": phone_number_id,
                                },
                                "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                                "messages": [message],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def new_wamid(prefix: str = "in") -> str:
    return f"wamid.test-{prefix}-{next(_counter)}-{time.monotonic_ns()}"


def store_inbound(
    db: firestore.Client,
    *,
    wa_id: str,
    name: str = "Test User",
    text: str = "hello",
    kind: str = "text",
    content: dict[str, Any] | None = None,
    wamid: str | None = None,
    job_topic: str | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> tuple[str, str]:
    """Store one inbound message like the webhook does; returns (conversation id, wamid).

    Without a `job_topic` the message is recorded as one no consumer will see, with its
    conversation; with one, only the message is written, as it is before its job arrives.
    """
    wamid = wamid or new_wamid()
    message: dict[str, Any] = {"from": wa_id, "id": wamid, "timestamp": str(int(time.time())), "type": kind}
    message[kind] = content if content is not None else {"body": text}
    delivery = parse_delivery(envelope(wa_id, name, message, phone_number_id))
    value = delivery.message_changes[0]
    record_inbound(db, value, value.messages[0], job_topic=job_topic, retention_days=30)
    return conversation_id(phone_number_id, wa_id), wamid


def identified_envelope(
    message: dict[str, Any],
    *,
    phone: str | None,
    user_id: str | None,
    name: str = "Test User",
    username: str | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> bytes:
    """A delivery as Meta sends it since 2026: the user's BSUID beside their phone, or alone."""
    if phone:
        message = {"from": phone, **message}
    if user_id:
        message = {"from_user_id": user_id, **message}
    contact: dict[str, Any] = {"profile": {"name": name, **({"username": username} if username else {})}}
    if phone:
        contact["wa_id"] = phone
    if user_id:
        contact["user_id"] = user_id
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001234", "phone_number_id": phone_number_id},
        "messages": [message],
    }
    if message.get("type") != "system":  # system messages come without contacts
        value["contacts"] = [contact]
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "200000000000001", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


def store_identified(
    db: firestore.Client,
    *,
    phone: str | None = None,
    user_id: str | None = None,
    username: str | None = None,
    name: str = "Test User",
    text: str = "hello",
    wamid: str | None = None,
    system: dict[str, Any] | None = None,
    job_topic: str | None = "whatsapp-reply",
    phone_number_id: str = PHONE_NUMBER_ID,
) -> tuple[str, str]:
    """Store one message from a user with these identifiers like the webhook does; returns the
    (conversation id the webhook filed it under, wamid)."""
    wamid = wamid or new_wamid()
    message: dict[str, Any] = {"id": wamid, "timestamp": str(int(time.time()))}
    if system is not None:
        message.update(type="system", system=system)
    else:
        message.update(type="text", text={"body": text})
    body = identified_envelope(
        message, phone=phone, user_id=user_id, name=name, username=username, phone_number_id=phone_number_id
    )
    delivery = parse_delivery(body)
    assert not delivery.rejected, delivery.rejected
    value = delivery.message_changes[0]
    parsed = value.messages[0]
    record_inbound(db, value, parsed, job_topic=job_topic, retention_days=30)
    return conversation_id(phone_number_id, parsed.sender), wamid


def store_ai_reply(
    db: firestore.Client,
    conv_id: str,
    wa_id: str,
    text: str,
    *,
    answered: list[str],
    model: str = "gemini-test",
    input_tokens: int = 120,
    output_tokens: int = 30,
    latency_ms: int = 850,
) -> str:
    """An AI response record and the outbound message that carried it; returns the wamid."""
    response_id = f"reply-{next(_counter)}"
    ai_responses(db, conv_id).document(response_id).set(
        {
            "state": "sent",
            "model": model,
            "message_ids": answered,
            "text": text,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "latency_ms": latency_ms,
            "finish_reason": "STOP",
            "created_at": datetime.now(UTC),
            "error": None,
        }
    )
    wamid = new_wamid("out")
    for answered_id in answered:  # as the reply loop settles a burst
        message_ref(db, conv_id, answered_id).update({"status": "answered", "ai_response_id": response_id})
    record_sent(db, conv_id, wa_id, wamid, text, sent_by=SentBy.AI, ai_response_id=response_id)
    return wamid


def record_sent(
    db: firestore.Client,
    conv_id: str,
    wa_id: str,
    wamid: str,
    text: str,
    *,
    sent_by: SentBy,
    phone_number_id: str = PHONE_NUMBER_ID,
    ai_response_id: str | None = None,
) -> None:
    """Record a message WhatsApp accepted the way the senders do: one batch, then parked statuses.

    An operator's message answers what the customer is waiting for, as the dashboard's send does.
    """
    batch = db.batch()
    add_outbound(
        batch,
        db,
        conversation_id=conv_id,
        wamid=wamid,
        text=text,
        sent_by=sent_by,
        to=wa_id,
        ai_response_id=ai_response_id,
        answers=waiting_messages(db, conv_id) if sent_by is SentBy.OPERATOR else [],
    )
    batch.commit(**CALL)
    apply_parked_statuses(db, conv_id, wamid)


def record_refused(
    db: firestore.Client, conv_id: str, wa_id: str, record_id: str, text: str, error: dict[str, Any]
) -> None:
    """A message WhatsApp refused, recorded as the assistant records one."""
    batch = db.batch()
    add_failed_send(
        batch,
        db,
        conversation_id=conv_id,
        record_id=record_id,
        text=text,
        sent_by=SentBy.AI,
        to=wa_id,
        error=error,
    )
    batch.commit(**CALL)


def message(db: firestore.Client, conv_id: str, message_id: str) -> dict[str, Any]:
    snap = message_ref(db, conv_id, message_id).get()
    return snap.to_dict() or {}


def conversation(db: firestore.Client, conv_id: str) -> dict[str, Any]:
    return conversation_ref(db, conv_id).get().to_dict() or {}
