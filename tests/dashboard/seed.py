"""Test data written the way the rest of the system writes it.

Inbound messages go through the webhook's own parser and writer (`parse_delivery` and
`record_inbound`), outbound ones through `record_outbound`, so the dashboard is tested against
the documents production stores, not against a hand-made imitation.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from shared.store.base import AI_RESPONSES, CONVERSATIONS, MESSAGES, conversation_id
from shared.store.inbound import record_inbound
from shared.store.outbound import record_outbound
from shared.whatsapp.parse import parse_delivery

PHONE_NUMBER_ID = "100000000000001"
_counter = itertools.count(1)


def envelope(wa_id: str, name: str, message: dict[str, Any]) -> bytes:
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
                                    "phone_number_id": PHONE_NUMBER_ID,
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
) -> tuple[str, str]:
    """Store one inbound message like the webhook does; returns (conversation id, wamid)."""
    wamid = wamid or new_wamid()
    message: dict[str, Any] = {"from": wa_id, "id": wamid, "timestamp": str(int(time.time())), "type": kind}
    message[kind] = content if content is not None else {"body": text}
    delivery = parse_delivery(envelope(wa_id, name, message))
    value = delivery.message_changes[0]
    record_inbound(db, value, value.messages[0], job_topic=None, retention_days=30)
    conv_id = conversation_id(PHONE_NUMBER_ID, wa_id)
    # The webhook does not write the lower-cased name yet (asked for in the dashboard report).
    db.collection(CONVERSATIONS).document(conv_id).set({"display_name_lower": name.lower()}, merge=True)
    return conv_id, wamid


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
    db.collection(CONVERSATIONS).document(conv_id).collection(AI_RESPONSES).document(response_id).set(
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
    messages = db.collection(CONVERSATIONS).document(conv_id).collection(MESSAGES)
    for answered_id in answered:  # as the reply loop settles a burst
        messages.document(answered_id).update({"status": "answered", "ai_response_id": response_id})
    record_outbound(
        db,
        conversation_id=conv_id,
        wamid=wamid,
        text=text,
        sent_by="ai",
        to=wa_id,
        phone_number_id=PHONE_NUMBER_ID,
        ai_response_id=response_id,
    )
    return wamid


def message(db: firestore.Client, conv_id: str, message_id: str) -> dict[str, Any]:
    snap = db.collection(CONVERSATIONS).document(conv_id).collection(MESSAGES).document(message_id).get()
    return snap.to_dict() or {}


def conversation(db: firestore.Client, conv_id: str) -> dict[str, Any]:
    return db.collection(CONVERSATIONS).document(conv_id).get().to_dict() or {}
