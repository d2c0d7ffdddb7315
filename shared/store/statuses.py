"""Delivery statuses move an outbound message forward, never back.

WhatsApp does not promise the order of status webhooks (a `delivered` may come after `read`, or
never), and it retries them, so each update is applied only when it ranks above what is stored.
A status can also arrive before the message it describes is recorded (the `sent` webhook can
beat the sender's own write); such a status is parked in `orphan_statuses` and applied when the
message is recorded (`apply_parked_statuses`).

A `failed` status often comes well after WhatsApp accepted the message (131047: the 24-hour
window closed; 131026: the number cannot receive it). For one of the assistant's replies it also
fails the reply record and the customer's messages it answered, found through the message's
`ai_response_id` or, when the message was never recorded, through the
`biz_opaque_callback_data` (`"<reply_id>:<part>"`) the part was sent with. One window stays
open: a failed status for an early part that arrives while the reply's later parts are still
being sent is overwritten when the last part closes the reply as sent; the outbound message
itself stays failed and the conversation flagged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.store import identity, ledger, stats
from shared.store.rates import current_rate_card, micros
from shared.store.replies import add_delivery_failure, reply_of_callback
from shared.store.schema import (
    CALL,
    CALL_TIMEOUT,
    Direction,
    ai_responses,
    conversation_id,
    conversation_ref,
    message_ref,
    orphan_status_ref,
)
from shared.whatsapp.models import DeliveryStatus, Pricing, ReportedError, StatusUpdate

log = logging.getLogger(__name__)

ORPHAN_RETENTION = timedelta(days=2)


def _error_of(update: StatusUpdate) -> dict[str, Any]:
    return update.errors[0].as_dict() if update.errors else {"code": None, "title": "failed", "detail": ""}


def _status_fields(update: StatusUpdate) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": update.status.value,
        f"status_times.{update.status.value}": update.timestamp,
    }
    if update.status is DeliveryStatus.FAILED:
        fields["error"] = _error_of(update)
    return fields


def apply_status(
    db: firestore.Client, phone_number_id: str, update: StatusUpdate, *, conv_id: str | None = None
) -> bool:
    """Move the outbound message forward; False when the message is not (yet) known.

    The message is looked for in the conversation its recipient's phone, else BSUID, gives (or
    `conv_id`); not there, the conversation that id links to is tried (shared/store/identity.py)."""
    conv_id = conv_id or conversation_id(phone_number_id, update.recipient)
    linked = False
    for _ in range(5):
        conv_ref = conversation_ref(db, conv_id)
        ref = message_ref(db, conv_id, update.wamid)
        snap = ref.get(**CALL)
        if not snap.exists and not linked:
            linked = True
            target = identity.linked_to(conv_ref.get(**CALL).to_dict())
            if target:
                conv_id = target
                continue
        if not snap.exists or snap.get("direction") != Direction.OUTBOUND:
            _park(db, update, conv_id)
            return False
        data = snap.to_dict() or {}
        current = DeliveryStatus(data.get("status") or "accepted")
        moves = update.status.rank > current.rank
        billed = update.pricing is not None and not data.get("pricing")
        if not moves and not billed:
            return True  # a repeat or a late, lower status: nothing to change
        fields = _status_fields(update) if moves else {}
        batch = db.batch()
        if billed:
            fields.update(_add_billing(batch, db, conv_ref, update))
        batch.update(ref, fields, option=db.write_option(last_update_time=snap.update_time))
        if moves and update.status is DeliveryStatus.FAILED:
            batch.set(conv_ref, {"has_failure": True, "needs_attention": True}, merge=True)
            stats.add_stat_increments(
                batch, db, update.timestamp, stats.message_failed("outbound"), update.wamid
            )
            reply_id = data.get("ai_response_id") or reply_of_callback(update.callback_data)
            if reply_id:
                _add_reply_failure(batch, db, conv_id, reply_id, update)
        try:
            batch.commit(timeout=CALL_TIMEOUT)
        except gexc.FailedPrecondition:
            continue  # a concurrent status won the race; compare again with what it wrote
        return True
    raise gexc.Aborted(f"status of {update.wamid} kept changing under us")


def _add_billing(
    batch: firestore.WriteBatch,
    db: firestore.Client,
    conv_ref: firestore.DocumentReference,
    update: StatusUpdate,
) -> dict[str, Any]:
    """The message's first status with `pricing`: what Meta billed, on the message, the day's
    counters and the conversation's; returns the message's fields."""
    pricing = update.pricing
    assert pricing is not None
    market = ledger.market_of(update.recipient_id or "")  # a user known only by BSUID: "other"
    fields: dict[str, Any] = {"pricing": {**pricing.as_dict(), "market": market}}
    if pricing.billable:
        counted = ledger.billed_message(pricing.category, market)
        stats.add_stat_increments(batch, db, update.timestamp, counted, update.wamid)
        cost = micros(current_rate_card(db).message_rate(pricing.category, market))
        batch.set(
            conv_ref,
            stats.nested_increments({**counted, "cost_micros": cost}),
            merge=True,
        )
    return fields


def _add_reply_failure(
    batch: firestore.WriteBatch, db: firestore.Client, conv_id: str, reply_id: str, update: StatusUpdate
) -> bool:
    reply = ai_responses(db, conv_id).document(reply_id).get(**CALL)
    error = {**_error_of(update), "wamid": update.wamid}
    if not add_delivery_failure(batch, db, conv_id, reply, error):
        return False
    log.error(
        "WhatsApp could not deliver a reply it had accepted",
        extra={
            "conversation_id": conv_id,
            "reply_id": reply_id,
            "wamid": update.wamid,
            "code": error["code"],
        },
    )
    return True


def _fail_reply_of_unrecorded_message(db: firestore.Client, update: StatusUpdate, conv_id: str) -> None:
    """A failed status for a part whose message is not recorded (an instance may have stopped
    between sending and recording it): its callback data still names the reply."""
    reply_id = reply_of_callback(update.callback_data)
    if update.status is not DeliveryStatus.FAILED or reply_id is None:
        return
    for _ in range(5):
        batch = db.batch()
        if not _add_reply_failure(batch, db, conv_id, reply_id, update):
            return  # unknown, or already failed
        batch.set(conversation_ref(db, conv_id), {"has_failure": True, "needs_attention": True}, merge=True)
        try:
            batch.commit(timeout=CALL_TIMEOUT)
        except gexc.FailedPrecondition:
            continue  # the reply changed since it was read; look again
        return
    raise gexc.Aborted(f"reply {reply_id} kept changing under us")


def _park(db: firestore.Client, update: StatusUpdate, conv_id: str) -> None:
    log.info(
        "status for a message not recorded (yet); parked",
        extra={"wamid": update.wamid, "status": update.status.value},
    )
    _fail_reply_of_unrecorded_message(db, update, conv_id)
    now = datetime.now(UTC)
    orphan_status_ref(db, update.wamid).set(
        {
            "conversation_id": conv_id,
            "callback_data": update.callback_data,  # our reply id and part, when we sent one
            "statuses": {
                update.status.value: {
                    "timestamp": update.timestamp,
                    "errors": [e.as_dict() for e in update.errors],
                    "pricing": update.pricing.as_dict() if update.pricing else None,
                }
            },
            "received_at": now,
            "expire_at": now + ORPHAN_RETENTION,
        },
        merge=True,
        **CALL,
    )


def parked_statuses(db: firestore.Client, wamid: str, recipient_id: str | None) -> list[StatusUpdate]:
    """Statuses that arrived before `wamid` was recorded, lowest first."""
    snap = orphan_status_ref(db, wamid).get(**CALL)
    if not snap.exists:
        return []
    updates = []
    for name, info in (snap.get("statuses") or {}).items():
        errors = tuple(
            ReportedError(code=e.get("code") or 0, title=e.get("title", ""), details=e.get("detail", ""))
            for e in info.get("errors", [])
        )
        priced = info.get("pricing")
        updates.append(
            StatusUpdate(
                wamid,
                DeliveryStatus(name),
                info["timestamp"],
                recipient_id,
                errors,
                pricing=Pricing(**priced) if isinstance(priced, dict) else None,
                callback_data=(snap.to_dict() or {}).get("callback_data"),
            )
        )
    return sorted(updates, key=lambda u: u.status.rank)


def apply_parked_statuses(db: firestore.Client, conv_id: str, wamid: str) -> None:
    """After recording outbound message `wamid` in `conv_id`: the statuses that came before it."""
    parked = parked_statuses(db, wamid, None)
    if not parked:
        return  # the usual case: statuses come after the message is recorded
    for update in parked:
        apply_status(db, conv_id.split("_", 1)[0], update, conv_id=conv_id)
    orphan_status_ref(db, wamid).delete(**CALL)
