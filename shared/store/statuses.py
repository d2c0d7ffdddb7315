"""Delivery statuses move an outbound message forward, never back.

WhatsApp does not promise the order of status webhooks (a `delivered` may come after `read`, or
never), and it retries them, so each update is applied only when it ranks above what is stored.
A status can also arrive before the message it describes is recorded (the `sent` webhook can
beat the sender's own write); such a status is parked in `orphan_statuses` and applied when the
message is recorded (`apply_parked_statuses`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.store import stats
from shared.store.schema import (
    CALL,
    CALL_TIMEOUT,
    Direction,
    conversation_id,
    conversation_ref,
    message_ref,
    orphan_status_ref,
)
from shared.whatsapp.models import DeliveryStatus, ReportedError, StatusUpdate

log = logging.getLogger(__name__)

ORPHAN_RETENTION = timedelta(days=2)


def _status_fields(update: StatusUpdate) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": update.status.value,
        f"status_times.{update.status.value}": update.timestamp,
    }
    if update.status is DeliveryStatus.FAILED:
        error = (
            update.errors[0].as_dict() if update.errors else {"code": None, "title": "failed", "detail": ""}
        )
        fields["error"] = error
    return fields


def apply_status(db: firestore.Client, phone_number_id: str, update: StatusUpdate) -> bool:
    """Move the outbound message forward; False when the message is not (yet) known."""
    conv_id = conversation_id(phone_number_id, update.recipient_id)
    conv_ref = conversation_ref(db, conv_id)
    ref = message_ref(db, conv_id, update.wamid)
    for _ in range(5):
        snap = ref.get(**CALL)
        if not snap.exists or snap.get("direction") != Direction.OUTBOUND:
            _park(db, update, conv_id)
            return False
        current = DeliveryStatus(snap.get("status") or "accepted")
        if update.status.rank <= current.rank:
            return True  # a repeat or a late, lower status: nothing to change
        batch = db.batch()
        batch.update(ref, _status_fields(update), option=db.write_option(last_update_time=snap.update_time))
        if update.status is DeliveryStatus.FAILED:
            batch.set(conv_ref, {"has_failure": True, "needs_attention": True}, merge=True)
            stats.add_stat_increments(
                batch, db, update.timestamp, stats.message_failed("outbound"), update.wamid
            )
        try:
            batch.commit(timeout=CALL_TIMEOUT)
        except gexc.FailedPrecondition:
            continue  # a concurrent status won the race; compare again with what it wrote
        return True
    raise gexc.Aborted(f"status of {update.wamid} kept changing under us")


def _park(db: firestore.Client, update: StatusUpdate, conv_id: str) -> None:
    log.info(
        "status for a message not recorded (yet); parked",
        extra={"wamid": update.wamid, "status": update.status.value},
    )
    now = datetime.now(UTC)
    orphan_status_ref(db, update.wamid).set(
        {
            "conversation_id": conv_id,
            "callback_data": update.callback_data,  # our reply id and part, when we sent one
            "statuses": {
                update.status.value: {
                    "timestamp": update.timestamp,
                    "errors": [e.as_dict() for e in update.errors],
                }
            },
            "received_at": now,
            "expire_at": now + ORPHAN_RETENTION,
        },
        merge=True,
        **CALL,
    )


def parked_statuses(db: firestore.Client, wamid: str, recipient_id: str) -> list[StatusUpdate]:
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
        updates.append(StatusUpdate(wamid, DeliveryStatus(name), info["timestamp"], recipient_id, errors))
    return sorted(updates, key=lambda u: u.status.rank)


def apply_parked_statuses(db: firestore.Client, phone_number_id: str, wamid: str, recipient_id: str) -> None:
    parked = parked_statuses(db, wamid, recipient_id)
    if not parked:
        return  # the usual case: statuses come after the message is recorded
    for update in parked:
        apply_status(db, phone_number_id, update)
    orphan_status_ref(db, wamid).delete(**CALL)
