"""Re-engagement: an answer is due and the 24-hour window is closed.

Free-form messages cannot reach the customer any more, so the assistant sends the configured
template (REENGAGE_TEMPLATE) once per silence (`store.reengagement`), or, without one, leaves
the conversation flagged for an operator. It is reached three ways: the window was known to be
closed before sending, WhatsApp answered a send with 131047, or a part's status came back failed
with 131047 (the webhook publishes a `reengage` job). Never a retry loop: a refused or unknown
template send is recorded and flagged, not tried again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.clients import Clients
from shared.config import Settings
from shared.store.consent import may_message
from shared.store.outbound import add_failed_send, add_outbound
from shared.store.reengagement import claim_reengagement, settle_reengagement, silence_key
from shared.store.schema import CALL, SentBy, conversation_ref
from shared.store.statuses import apply_parked_statuses
from shared.store.templates import find_template
from shared.whatsapp.errors import OutcomeUnknown, WhatsAppError
from shared.whatsapp.templates import TemplateError, template_record

log = logging.getLogger(__name__)

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)
WINDOW_CLOSED_ERROR = {
    "code": 131047,
    "title": "The 24-hour window is closed",
    "detail": "The customer last wrote more than 24 hours ago; only an approved template can reach them.",
}


def window_closed(conversation: dict[str, Any], now: datetime | None = None) -> bool:
    """Whether the customer's last message is more than 24 hours old (by our record of it)."""
    last = conversation.get("last_inbound_at")
    return isinstance(last, datetime) and (now or datetime.now(UTC)) - last >= CUSTOMER_SERVICE_WINDOW


def reengage(settings: Settings, clients: Clients, conversation_id: str) -> str:
    """Send the re-engagement template once for the customer's current silence, or flag the
    conversation; returns what happened ("sent", "flagged", "already", "refused", "unknown")."""
    db = clients.firestore
    conv_ref = conversation_ref(db, conversation_id)
    snap = conv_ref.get(**CALL)
    conversation = snap.to_dict() or {}
    extra = {"conversation_id": conversation_id}
    flag = {"needs_attention": True, "window_closed_waiting": True}
    spec = settings.reengage
    template = find_template(db, *spec) if spec else None
    if not may_message(conversation) or template is None:
        if spec and template is None:
            log.error(
                "REENGAGE_TEMPLATE is not an approved template; flagged instead",
                extra={**extra, "template": ":".join(spec)},
            )
        conv_ref.set(flag, merge=True, **CALL)
        return "flagged"
    claim = claim_reengagement(
        db, conversation_id, silence_key(conversation.get("last_inbound_at")), template=template.name
    )
    if claim is None:
        return "already"  # this silence was re-engaged (or is being) by another job
    # Whom it goes to: the phone when known, else the BSUID (as every reply, shared/ai_reply/burst.py).
    wa_id = str(conversation.get("wa_id") or conversation.get("user_id") or conversation_id.split("_", 1)[1])
    phone_number_id = str(conversation.get("phone_number_id") or conversation_id.split("_", 1)[0])
    try:
        values = {slot.field_name: _value(slot.field_name, conversation) for slot in template.slots}
        message = template.fill(values)
    except TemplateError as exc:
        log.error(
            "the re-engagement template needs values the assistant has not",
            extra={**extra, "error": str(exc)},
        )
        settle_reengagement(claim, "unfillable", error=str(exc))
        conv_ref.set(flag, merge=True, **CALL)
        return "flagged"
    try:
        wamid = clients.whatsapp.send_template(
            phone_number_id, wa_id, message, callback_data=f"reengage:{claim.id}"
        )
    except OutcomeUnknown as exc:
        log.error("the re-engagement template may or may not have gone out; not sent again", extra=extra)
        settle_reengagement(claim, "unknown", error=str(exc))
        conv_ref.set(flag, merge=True, **CALL)
        return "unknown"
    except WhatsAppError as exc:
        log.error("WhatsApp refused the re-engagement template", extra={**extra, "code": exc.code})
        batch = db.batch()
        add_failed_send(
            batch,
            db,
            conversation_id=conversation_id,
            record_id=f"failed-reengage-{claim.id}",
            text=message.text,
            sent_by=SentBy.AI,
            to=wa_id,
            error=exc.as_dict(),
        )
        batch.commit(**CALL)
        settle_reengagement(claim, "refused", error=exc.as_dict())
        return "refused"
    batch = db.batch()
    add_outbound(
        batch,
        db,
        conversation_id=conversation_id,
        wamid=wamid,
        text=message.text,
        sent_by=SentBy.AI,
        to=wa_id,
        template=template_record(message, reengagement=True),
    )
    # The customer's question still waits for a person or for their reply to the template.
    batch.set(conv_ref, flag, merge=True)
    batch.update(claim, {"outcome": "sent", "wamid": wamid, "settled_at": datetime.now(UTC)})
    batch.commit(**CALL)
    apply_parked_statuses(db, conversation_id, wamid)
    log.info("re-engagement template sent", extra={**extra, "wamid": wamid, "template": template.name})
    return "sent"


def _value(field_name: str, conversation: dict[str, Any]) -> str:
    """What the assistant can fill a re-engagement template with: the customer's name."""
    name = str(conversation.get("display_name") or "").split()
    return name[0] if name else "there"
