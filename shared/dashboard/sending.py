"""Messages an operator sends: a reply written by hand, or a failed reply sent again.

Sending must happen once, even if the form is submitted twice (a double click, a reload, two
tabs). Each reply form carries a one-time key; the send claims it (`store.outbound`) before
calling WhatsApp, so a second submission finds the claim and sends nothing. A resend of a failed
message claims the failed message itself (a precondition on its update time) and points it at
the new message afterwards.

A send WhatsApp never answered (`OutcomeUnknown`: the request went out, the answer did not come
back) may have reached the customer. It is kept as such, shown as "may not have been
delivered", with the conversation flagged; its claim is kept, so no second click sends it again.
Only a refusal WhatsApp stated gives the claim back.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.dashboard.actions import FailedMessage
from shared.dashboard.conversations import ConversationRow
from shared.store import pauses
from shared.store.outbound import (
    add_operator_send_done,
    add_operator_send_unknown,
    add_outbound,
    add_unknown_send,
    claim_operator_send,
    release_operator_send,
    waiting_messages,
)
from shared.store.schema import CALL, CALL_TIMEOUT, Direction, SentBy, conversation_ref
from shared.store.statuses import apply_parked_statuses
from shared.whatsapp.errors import OutcomeUnknown, WhatsAppError
from shared.whatsapp.templates import Template, TemplateError, TemplateMessage, template_record
from shared.whatsapp.text import TEXT_LIMIT, meta_length

log = logging.getLogger(__name__)

SEND_KEY = re.compile(r"^[0-9a-f]{32}$")


class TextSender(Protocol):
    def send_text(self, phone_number_id: str, to: str, body: str, *, reply_to: str | None = None) -> str: ...


class TemplateSender(Protocol):
    def send_template(self, phone_number_id: str, to: str, template: TemplateMessage) -> str: ...


class SendOutcome(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    REFUSED = "refused"  # WhatsApp answered with an error
    UNKNOWN = "unknown"  # WhatsApp did not answer: it may or may not have been delivered
    NOT_FAILED = "not_failed"
    BUSY = "busy"
    OPTED_OUT = "opted_out"  # the customer wrote STOP: nothing is sent until they write START
    WINDOW_CLOSED = "window_closed"  # a free-form message after the 24-hour window: WhatsApp refuses it
    TEMPLATE_MISSING = "template_missing"
    TEMPLATE_VALUES = "template_values"


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    wamid: str = ""
    error_code: int | None = None


def new_send_key() -> str:
    return secrets.token_hex(16)


def send_operator_reply(
    db: firestore.Client,
    conversation: ConversationRow,
    text: str,
    *,
    key: str,
    operator: str,
    sender: TextSender,
    pause_minutes: float = 0,
    service_window: bool = True,
) -> SendResult:
    """Send an operator's message; like the owner's from the Business app it pauses the assistant
    for `pause_minutes` (HUMAN_REPLY_PAUSE_MINUTES), after which it resumes by itself. With
    `service_window` (a Cloud API number) a free-form message after the 24-hour window is refused
    before WhatsApp is called; a WAHA session has no window."""
    if conversation.opted_out:
        return SendResult(SendOutcome.OPTED_OUT)
    body = text.strip()
    if not body:
        return SendResult(SendOutcome.EMPTY)
    if meta_length(body) > TEXT_LIMIT:
        return SendResult(SendOutcome.TOO_LONG)
    if service_window and not conversation.window_open():
        return SendResult(SendOutcome.WINDOW_CLOSED)

    def record(batch: firestore.WriteBatch, wamid: str) -> None:
        add_outbound(
            batch,
            db,
            conversation_id=conversation.id,
            wamid=wamid,
            text=body,
            sent_by=SentBy.OPERATOR,
            to=conversation.address,
            operator=operator,
            answers=waiting_messages(db, conversation.id),
        )
        batch.set(
            conversation_ref(db, conversation.id),
            pauses.human_reply(datetime.now(UTC), pause_minutes, SentBy.OPERATOR),
            merge=True,
        )

    return _send_once(
        db,
        conversation,
        key=key,
        operator=operator,
        text=body,
        send=lambda: sender.send_text(conversation.phone_number_id, conversation.address, body),
        record=record,
        what=("message", "reply"),
        log_extra={},
    )


def send_operator_template(
    db: firestore.Client,
    conversation: ConversationRow,
    template: Template | None,
    values: Mapping[str, str],
    *,
    key: str,
    operator: str,
    sender: TemplateSender,
) -> SendResult:
    """An approved template, filled by the operator: exactly once, like a reply by hand (the form's
    one-time key is claimed before WhatsApp is called), recorded as an outbound template message."""
    if conversation.opted_out:
        return SendResult(SendOutcome.OPTED_OUT)
    if template is None or not template.approved:
        return SendResult(SendOutcome.TEMPLATE_MISSING)
    try:
        message = template.fill(values)
    except TemplateError:
        return SendResult(SendOutcome.TEMPLATE_VALUES)

    def record(batch: firestore.WriteBatch, wamid: str) -> None:
        add_outbound(
            batch,
            db,
            conversation_id=conversation.id,
            wamid=wamid,
            text=message.text,
            sent_by=SentBy.OPERATOR,
            to=conversation.address,
            operator=operator,
            template=template_record(message),
        )

    return _send_once(
        db,
        conversation,
        key=key,
        operator=operator,
        text=message.text,
        send=lambda: sender.send_template(conversation.phone_number_id, conversation.address, message),
        record=record,
        what=("template", "template"),
        log_extra={"template": template.name},
    )


def _send_once(
    db: firestore.Client,
    conversation: ConversationRow,
    *,
    key: str,
    operator: str,
    text: str,
    send: Callable[[], str],
    record: Callable[[firestore.WriteBatch, str], None],
    what: tuple[str, str],
    log_extra: Mapping[str, Any],
) -> SendResult:
    """An operator's send, exactly once: the form's one-time key is claimed before WhatsApp is
    called; an unanswered send is kept as unknown and never sent by a second click; a refused one
    frees the key; a sent one is recorded by `record` in the batch that settles the claim."""
    if not SEND_KEY.match(key):
        return SendResult(SendOutcome.DUPLICATE)
    claim = claim_operator_send(db, conversation.id, key, operator)
    if claim is None:
        return SendResult(SendOutcome.DUPLICATE)
    try:
        wamid = send()
    except OutcomeUnknown as exc:
        batch = db.batch()
        _add_unknown(batch, db, conversation, f"unknown-{key}", text, SentBy.OPERATOR, operator, exc)
        add_operator_send_unknown(batch, claim)
        batch.commit(**CALL)
        return SendResult(SendOutcome.UNKNOWN)
    except WhatsAppError as exc:
        log.warning(
            f"WhatsApp refused the operator's {what[0]}",
            extra={
                "conversation_id": conversation.id,
                "error": type(exc).__name__,
                "code": exc.code,
                **log_extra,
            },
        )
        # Known not sent: free the key so the operator can press Send again.
        release_operator_send(claim)
        return SendResult(SendOutcome.REFUSED, error_code=exc.code)
    batch = db.batch()
    record(batch, wamid)
    add_operator_send_done(batch, claim, wamid)
    batch.commit(**CALL)
    apply_parked_statuses(db, conversation.id, wamid)
    log.info(
        f"operator {what[1]} sent",
        extra={"conversation_id": conversation.id, "wamid": wamid, "operator": operator, **log_extra},
    )
    return SendResult(SendOutcome.SENT, wamid)


def resend_failed(
    db: firestore.Client,
    conversation: ConversationRow,
    message: FailedMessage,
    *,
    operator: str,
    sender: TextSender,
) -> SendResult:
    """Send the text of a failed outbound message again, as a new message."""
    if conversation.opted_out:
        return SendResult(SendOutcome.OPTED_OUT)
    data: dict[str, Any] = message.data
    text = str(data.get("text") or "")
    if (
        data.get("direction") != Direction.OUTBOUND
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
    sent_by = SentBy.OPERATOR if data.get("sent_by") == SentBy.OPERATOR else SentBy.AI
    try:
        wamid = sender.send_text(conversation.phone_number_id, conversation.address, text)
    except OutcomeUnknown as exc:
        # The claim on the failed message stays (retry.state "unknown"): it is not resent again.
        batch = db.batch()
        _add_unknown(batch, db, conversation, f"unknown-{message.ref.id}", text, sent_by, operator, exc)
        batch.update(message.ref, {"retry.state": "unknown"})
        batch.commit(**CALL)
        return SendResult(SendOutcome.UNKNOWN)
    except WhatsAppError as exc:
        message.ref.update({"retry": firestore.DELETE_FIELD}, **CALL)
        return SendResult(SendOutcome.REFUSED, error_code=exc.code)
    batch = db.batch()
    add_outbound(
        batch,
        db,
        conversation_id=conversation.id,
        wamid=wamid,
        text=text,
        sent_by=sent_by,
        to=conversation.address,
        reply_to=data.get("reply_to") or None,
        ai_response_id=data.get("ai_response_id") or None,
        operator=operator,
    )
    batch.update(message.ref, {"retried_as": wamid, "retry.state": "sent"})
    batch.commit(**CALL)
    apply_parked_statuses(db, conversation.id, wamid)
    log.info(
        "failed message sent again",
        extra={"conversation_id": conversation.id, "wamid": wamid, "operator": operator},
    )
    return SendResult(SendOutcome.SENT, wamid)


def _add_unknown(
    batch: firestore.WriteBatch,
    db: firestore.Client,
    conversation: ConversationRow,
    record_id: str,
    text: str,
    sent_by: SentBy,
    operator: str,
    exc: OutcomeUnknown,
) -> None:
    log.error(
        "WhatsApp did not answer an operator's send; it may have been delivered and is not sent again",
        extra={"conversation_id": conversation.id, "operator": operator, "error": str(exc)},
    )
    add_unknown_send(
        batch,
        db,
        conversation_id=conversation.id,
        record_id=record_id,
        text=text,
        sent_by=sent_by,
        to=conversation.address,
        operator=operator,
        error={
            "code": "outcome_unknown",
            "title": "The message may not have been delivered",
            "detail": "WhatsApp did not answer in time. Check with the customer before writing it again.",
        },
    )
