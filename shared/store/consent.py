"""Whether a customer may be messaged: their opt-out (STOP) and opt-in (START), on the conversation.

A customer who writes STOP (or an equivalent) is opted out from that message on: no AI reply, no
template, no operator send reaches them until they write START again. Both changes are recorded
with their time and the message that made them (`opted_out_at`, `opted_in_at`,
`consent_message_id`, `consent_keyword`), in one transaction with the overview's lifetime
counter of opted-out customers, so the count moves exactly when the state does.

Everything that sends to a customer asks `may_message(conversation)` first; it is the one rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.store import stats
from shared.store.schema import conversation_ref

OPTED_OUT = "opted_out"  # the conversation's flag, and the lifetime counter's name


def may_message(conversation: Mapping[str, Any] | None) -> bool:
    """False once the customer opted out and until they opt in again; True for an unknown one."""
    return not bool((conversation or {}).get(OPTED_OUT))


@dataclass(frozen=True)
class ConsentChange:
    """What `record_consent` found: `confirm` when this message is the one that set the state now
    held, so its confirmation is still owed (also on a redelivery of the same job)."""

    opted_out: bool
    confirm: bool


def record_consent(
    db: firestore.Client,
    conversation_id: str,
    *,
    opted_out: bool,
    message_id: str,
    keyword: str,
    at: datetime,
) -> ConsentChange:
    """Record that the customer's message `message_id` (the word `keyword`, at `at`) opted them out
    or back in. A second STOP while opted out changes nothing and owes no confirmation."""
    ref = conversation_ref(db, conversation_id)

    @firestore.transactional
    def attempt(tx: firestore.Transaction) -> ConsentChange:
        data = ref.get(transaction=tx).to_dict() or {}
        if bool(data.get(OPTED_OUT)) == opted_out:
            # Either nothing changes, or this very message changed it in an earlier delivery.
            same = data.get("consent_message_id") == message_id
            # Never opted out: a START owes no confirmation.
            return ConsentChange(opted_out, confirm=same)
        fields: dict[str, Any] = {
            OPTED_OUT: opted_out,
            "consent_message_id": message_id,
            "consent_keyword": keyword,
            ("opted_out_at" if opted_out else "opted_in_at"): at,
        }
        tx.set(ref, fields, merge=True)
        stats.add_lifetime_increments(tx, db, {OPTED_OUT: 1 if opted_out else -1}, conversation_id)
        return ConsentChange(opted_out, confirm=True)

    return attempt(db.transaction())
