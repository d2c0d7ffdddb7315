"""Messages deleted for everyone by their sender (WAHA's `message.revoked`): kept for the record,
marked so, never removed; the dashboard shows them as deleted."""

from __future__ import annotations

from datetime import datetime

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.store.schema import CALL, conversation_id, message_ref


def mark_revoked(
    db: firestore.Client, phone_number_id: str, *, wamid: str, customer: str, revoked_at: datetime
) -> bool:
    """Mark the message revoked; False when it is not known here."""
    ref = message_ref(db, conversation_id(phone_number_id, customer), wamid)
    try:
        ref.update({"revoked": True, "revoked_at": revoked_at}, **CALL)
    except gexc.NotFound:
        return False
    return True
