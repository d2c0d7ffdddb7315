"""One re-engagement per silence: the claim that keeps the assistant from sending a second template.

When the assistant has an answer due and the 24-hour window is closed, it may send the
configured template (REENGAGE_TEMPLATE) once. "Once" is per customer silence: the claim's key
is the time of the customer's last message, so however many replies fail for the same waiting
messages (retries, redeliveries, a failed status for each part), one template goes out; a new
message from the customer opens the window again, and a later silence may be re-engaged anew.
The claim is created before WhatsApp is called, like an operator's send.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.store.schema import CALL, reengagement_ref


def silence_key(last_inbound_at: datetime | None) -> str:
    """The claim's key: the customer's last message, to the microsecond ("never" before any)."""
    if last_inbound_at is None:
        return "never"
    return last_inbound_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def claim_reengagement(
    db: firestore.Client, conversation_id: str, key: str, **fields: Any
) -> firestore.DocumentReference | None:
    """The claim to re-engage this silence; None when it was claimed already."""
    ref = reengagement_ref(db, conversation_id, key)
    try:
        ref.create({"claimed_at": datetime.now(UTC), "outcome": "claimed", **fields}, **CALL)
    except gexc.AlreadyExists:
        return None
    return ref


def settle_reengagement(claim: firestore.DocumentReference, outcome: str, **fields: Any) -> None:
    claim.update({"outcome": outcome, "settled_at": datetime.now(UTC), **fields}, **CALL)
