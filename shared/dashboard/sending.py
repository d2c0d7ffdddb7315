"""Messages an operator sends: a reply written by hand, or a failed reply sent again.

Sending must happen once, even if the form is submitted twice (a double click, a reload, two
tabs). Each reply form carries a one-time key; the send claims `operator_sends/{key}` with
`create()` before calling WhatsApp, so a second submission finds the claim and sends nothing.
A resend of a failed message claims the failed message itself (a precondition on its update
time) and points it at the new message afterwards.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.dashboard.actions import FailedMessage
from shared.dashboard.conversations import ConversationRow
from shared.store.base import CALL_RETRY, CALL_TIMEOUT, CONVERSATIONS, MESSAGES
from shared.whatsapp.client import TEXT_LIMIT
from shared.whatsapp.errors import WhatsAppError

log = logging.getLogger(__name__)

OPERATOR_SENDS = "operator_sends"
SEND_KEY = re.compile(r"^[0-9a-f]{32}$")
CLAIM_RETENTION = timedelta(days=2)


class TextSender(Protocol):
    def send_text(self, phone_number_id: str, to: str, body: str, *, reply_to: str | None = None) -> str: ...


RecordOutbound = Callable[..., None]  # shared.store.outbound.record_outbound


class SendOutcome(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    REFUSED = "refused"  # WhatsApp answered with an error
    NOT_FAILED = "not_failed"
    BUSY = "busy"


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    wamid: str = ""
    error_code: int | None = None


def new_send_key() -> str:
    return secrets.token_hex(16)


def _claim(
    db: firestore.Client, conversation_id: str, key: str, operator: str
) -> firestore.DocumentReference | None:
    ref = db.collection(CONVERSATIONS).document(conversation_id).collection(OPERATOR_SENDS).document(key)
    now = datetime.now(UTC)
    try:
        ref.create(
            {"operator": operator, "claimed_at": now, "wamid": None, "expire_at": now + CLAIM_RETENTION},
            retry=CALL_RETRY,
            timeout=CALL_TIMEOUT,
        )
    except gexc.AlreadyExists:
        return None
    return ref


def _mark_operator(db: firestore.Client, conversation_id: str, wamid: str, operator: str) -> None:
    # record_outbound has no field for who sent it; name the operator on the message afterwards.
    db.collection(CONVERSATIONS).document(conversation_id).collection(MESSAGES).document(wamid).update(
        {"operator": operator}, retry=CALL_RETRY, timeout=CALL_TIMEOUT
    )


def send_operator_reply(
    db: firestore.Client,
    conversation: ConversationRow,
    text: str,
    *,
    key: str,
    operator: str,
    sender: TextSender,
    record_outbound: RecordOutbound,
) -> SendResult:
    body = text.strip()
    if not body:
        return SendResult(SendOutcome.EMPTY)
    if len(body) > TEXT_LIMIT:
        return SendResult(SendOutcome.TOO_LONG)
    if not SEND_KEY.match(key):
        return SendResult(SendOutcome.DUPLICATE)
    claim = _claim(db, conversation.id, key, operator)
    if claim is None:
        return SendResult(SendOutcome.DUPLICATE)
    try:
        wamid = sender.send_text(conversation.phone_number_id, conversation.wa_id, body)
    except WhatsAppError as exc:
        log.warning(
            "WhatsApp refused the operator's message",
            extra={"conversation_id": conversation.id, "error": type(exc).__name__, "code": exc.code},
        )
        # Known not sent: free the key so the operator can press Send again.
        claim.delete(retry=CALL_RETRY, timeout=CALL_TIMEOUT)
        return SendResult(SendOutcome.REFUSED, error_code=exc.code)
    claim.update({"wamid": wamid}, retry=CALL_RETRY, timeout=CALL_TIMEOUT)
    record_outbound(
        db,
        conversation_id=conversation.id,
        wamid=wamid,
        text=body,
        sent_by="operator",
        to=conversation.wa_id,
        phone_number_id=conversation.phone_number_id,
    )
    _mark_operator(db, conversation.id, wamid, operator)
    log.info(
        "operator reply sent",
        extra={"conversation_id": conversation.id, "wamid": wamid, "operator": operator},
    )
    return SendResult(SendOutcome.SENT, wamid)


def resend_failed(
    db: firestore.Client,
    conversation: ConversationRow,
    message: FailedMessage,
    *,
    operator: str,
    sender: TextSender,
    record_outbound: RecordOutbound,
) -> SendResult:
    """Send the text of a failed outbound message again, as a new message."""
    data: dict[str, Any] = message.data
    text = str(data.get("text") or "")
    if (
        data.get("direction") != "outbound"
        or data.get("status") != "failed"
        or data.get("retried_as")
        or data.get("retry")
    ):
        return SendResult(SendOutcome.NOT_FAILED)
    if not text.strip():
        return SendResult(SendOutcome.EMPTY)
    try:
        message.ref.update(
            {"retry": {"state": "sending", "by": operator, "at": datetime.now(UTC)}},
            option=db.write_option(last_update_time=message.snapshot.update_time),
            timeout=CALL_TIMEOUT,
        )
    except gexc.FailedPrecondition:
        return SendResult(SendOutcome.BUSY)
    try:
        wamid = sender.send_text(conversation.phone_number_id, conversation.wa_id, text)
    except WhatsAppError as exc:
        message.ref.update({"retry": firestore.DELETE_FIELD}, retry=CALL_RETRY, timeout=CALL_TIMEOUT)
        return SendResult(SendOutcome.REFUSED, error_code=exc.code)
    sent_by = "operator" if data.get("sent_by") == "operator" else "ai"
    record_outbound(
        db,
        conversation_id=conversation.id,
        wamid=wamid,
        text=text,
        sent_by=sent_by,
        to=conversation.wa_id,
        phone_number_id=conversation.phone_number_id,
        reply_to=data.get("reply_to") or None,
        ai_response_id=data.get("ai_response_id") or None,
    )
    message.ref.update({"retried_as": wamid, "retry.state": "sent"}, retry=CALL_RETRY, timeout=CALL_TIMEOUT)
    log.info(
        "failed message sent again",
        extra={"conversation_id": conversation.id, "wamid": wamid, "operator": operator},
    )
    return SendResult(SendOutcome.SENT, wamid)
