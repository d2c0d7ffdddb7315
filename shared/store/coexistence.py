"""Coexistence: the business also talks from the WhatsApp Business app on the same number.

- An echo (`smb_message_echoes`) is what the owner sent from the app: stored in the user's
  conversation as an outbound message `sent_by: business_app`, it settles what the customer was
  waiting on and pauses the assistant there (shared/store/pauses.py).
- A `history` sync holds past chats: stored once each (the wamid is the document id), in their
  order (`created_at` is when they were sent), never answered (`status: history`) and never
  counted as today's traffic.
- `smb_app_state_sync` brings the names the business gave its contacts in the app: they become
  the conversations' display names (`contact_name` is kept so a profile name does not replace it).

These run on the webhook's request path, and their few reads find the user's conversation
(an echo names the user by phone or BSUID; `identity.linked_to` follows a link): none of this
is the customer-message hot path, which stays one write and one publish.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.store import identity, pauses, stats
from shared.store.documents import inbound_message_document, preview
from shared.store.outbound import outbound_document, waiting_messages
from shared.store.schema import (
    CALL,
    InboundStatus,
    SentBy,
    conversation_id,
    conversation_ref,
    expire_at,
    message_ref,
    name_key,
)
from shared.whatsapp.models import ContactUpdate, DeliveryStatus, Echo, HistoryMessage, UserIdentity

log = logging.getLogger(__name__)

ALREADY_EXISTS = 6  # the gRPC status a create of an existing document fails with
HISTORY_WRITE_ATTEMPTS = 3
CONTACT_BATCH = 400  # updates per batch, under Firestore's 500

HISTORY_DELIVERY_STATUS = {
    "SENT": DeliveryStatus.SENT,
    "DELIVERED": DeliveryStatus.DELIVERED,
    "READ": DeliveryStatus.READ,
    "PLAYED": DeliveryStatus.PLAYED,
    "ERROR": DeliveryStatus.FAILED,
    "PENDING": DeliveryStatus.ACCEPTED,
}


def users_conversation(db: firestore.Client, phone_number_id: str, user: UserIdentity) -> str:
    """The id of the conversation `user` has on this number (or would start with this message)."""
    keys = [k for k in (user.wa_id, user.user_id) if k]
    ids = [conversation_id(phone_number_id, k) for k in keys]
    snaps = {s.reference.id: s for s in db.get_all([conversation_ref(db, c) for c in ids], **CALL)}
    for conv_id in ids:
        snap = snaps.get(conv_id)
        if snap is not None and snap.exists:
            return identity.linked_to(snap.to_dict()) or conv_id
    return ids[0]


def _user_fields(user: UserIdentity) -> dict[str, Any]:
    return {k: v for k, v in (("wa_id", user.wa_id), ("user_id", user.user_id)) if v}


def record_echo(
    db: firestore.Client,
    phone_number_id: str,
    echo: Echo,
    *,
    pause_minutes: float,
    retention_days: int,
) -> bool:
    """Store the owner's message and pause the assistant; False when it was stored before."""
    message = echo.message
    conv_id = users_conversation(db, phone_number_id, message.user)
    now = datetime.now(UTC)
    document = outbound_document(
        wamid=message.wamid,
        text=message.text,
        sent_by=SentBy.BUSINESS_APP,
        to=message.user.key,
        status=DeliveryStatus.SENT,
        now=now,
        reply_to=message.reply_to,
    )
    document.update(type=message.type.value, timestamp=message.timestamp)
    if retention := expire_at(now, retention_days):
        document["expire_at"] = retention
    batch = db.batch()
    batch.create(message_ref(db, conv_id, message.wamid), document)
    summary: dict[str, Any] = {
        "phone_number_id": phone_number_id,
        "last_message_at": now,
        "last_message_preview": preview(message.type.value, message.text),
        "message_count": firestore.Increment(1),
        **_user_fields(message.user),
        **pauses.human_reply(now, pause_minutes, SentBy.BUSINESS_APP),
    }
    batch.set(conversation_ref(db, conv_id), summary, merge=True)
    for ref in waiting_messages(db, conv_id):  # the owner answered them
        batch.update(ref, {"status": InboundStatus.ANSWERED.value, "answered_by": SentBy.BUSINESS_APP.value})
    stats.add_stat_increments(
        batch, db, now, stats.outbound_message_recorded(SentBy.BUSINESS_APP.value), message.wamid
    )
    try:
        batch.commit(**CALL)
    except gexc.AlreadyExists:
        return False  # a repeat delivery: stored and paused the first time
    log.info("the business wrote from the app; the assistant pauses", extra={"conversation_id": conv_id})
    return True


@dataclass(frozen=True)
class HistoryReport:
    stored: int
    already: int


def record_history(
    db: firestore.Client, phone_number_id: str, items: Sequence[HistoryMessage], *, retention_days: int
) -> HistoryReport:
    """Store a sync's past messages once each, in their conversations, answering none."""
    by_user: dict[str, str] = {}
    created: dict[str, int] = {}
    newest: dict[str, datetime] = {}
    already = 0
    writer = db.bulk_writer()
    failures: list[Exception] = []

    def on_error(error: Any, _writer: Any = None) -> bool:
        """Retry a failed write a few times, except one that was stored before (a repeat sync)."""
        nonlocal already
        if error.code == ALREADY_EXISTS:
            already += 1
            return False
        if error.attempts < HISTORY_WRITE_ATTEMPTS:
            return True
        failures.append(RuntimeError(f"history write failed: {error.message}"))
        return False

    writer.on_write_error(on_error)
    now = datetime.now(UTC)
    for item in items:
        message = item.message
        key = message.user.key
        if key not in by_user:
            by_user[key] = users_conversation(db, phone_number_id, message.user)
        conv_id = by_user[key]
        sent_at = message.timestamp
        if item.from_business:
            document = outbound_document(
                wamid=message.wamid,
                text=message.text,
                sent_by=SentBy.BUSINESS_APP,
                to=key,
                status=HISTORY_DELIVERY_STATUS.get(item.status, DeliveryStatus.SENT),
                now=sent_at,
            )
            document["type"] = message.type.value
        else:
            document = inbound_message_document(
                message, profile_name=None, received_at=sent_at, expire_at=None
            )
            document["status"] = InboundStatus.HISTORY.value
            document["job"] = None
        document["history"] = True
        document["created_at"] = sent_at  # its place in the thread: when it was sent
        if retention := expire_at(now, retention_days):
            document["expire_at"] = retention
        writer.create(message_ref(db, conv_id, message.wamid), document)
        created[conv_id] = created.get(conv_id, 0) + 1
        newest[conv_id] = max(newest.get(conv_id, sent_at), sent_at)
    writer.close()
    if failures:
        raise failures[0]
    for key, conv_id in by_user.items():
        user = next(i.message.user for i in items if i.message.user.key == key)
        conversation_ref(db, conv_id).set(
            {"phone_number_id": phone_number_id, **_user_fields(user), "history_synced_at": now},
            merge=True,
            **CALL,
        )
    stored = sum(created.values()) - already
    log.info("history synced", extra={"stored": stored, "already": already, "conversations": len(by_user)})
    return HistoryReport(stored, already)


def apply_contact_updates(
    db: firestore.Client, phone_number_id: str, updates: Sequence[ContactUpdate]
) -> int:
    """Name the conversations of contacts the business named in its app; returns how many changed.
    Contacts who never wrote get no conversation (a removed contact keeps its last name)."""
    named = [u for u in updates if u.name and u.action != "remove"]
    if not named:
        return 0
    ids = {u.wa_id: conversation_id(phone_number_id, u.wa_id) for u in named}
    snaps = {s.reference.id: s for s in db.get_all([conversation_ref(db, c) for c in ids.values()], **CALL)}
    targets = {}
    for update in named:
        snap = snaps.get(ids[update.wa_id])
        if snap is None or not snap.exists:
            continue
        targets[identity.linked_to(snap.to_dict()) or snap.id] = update.name
    items = list(targets.items())
    for start in range(0, len(items), CONTACT_BATCH):
        batch = db.batch()
        for conv_id, name in items[start : start + CONTACT_BATCH]:
            batch.update(
                conversation_ref(db, conv_id),
                {"contact_name": name, "display_name": name, "display_name_lower": name_key(name)},
            )
        batch.commit(**CALL)
    return len(items)
