"""Collection names, document ids and the call policy every Firestore write in the system uses."""

from __future__ import annotations

from datetime import datetime, timedelta

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type

CONVERSATIONS = "conversations"
MESSAGES = "messages"
AI_RESPONSES = "ai_responses"
QUARANTINE = "quarantine"
WEBHOOK_ERRORS = "webhook_errors"
ORPHAN_STATUSES = "orphan_statuses"  # statuses that arrived before their message was recorded

# Transient errors are retried briefly inside a request; past that the caller answers 503 (or
# raises, for a job) and the sender's redelivery retries the whole idempotent step. A long
# in-request retry would only hold Meta's connection open until it gives up on its own.
CALL_RETRY = Retry(
    predicate=if_exception_type(
        gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError, gexc.Aborted
    ),
    initial=0.1,
    maximum=1.0,
    multiplier=2.0,
    timeout=5.0,
)
CALL_TIMEOUT = 5.0


def conversation_id(phone_number_id: str, wa_id: str) -> str:
    """One conversation per (business number, WhatsApp user)."""
    return f"{phone_number_id}_{wa_id}"


def expire_at(now: datetime, retention_days: int) -> datetime | None:
    """When Firestore's TTL policy may delete a document; None keeps it forever."""
    return now + timedelta(days=retention_days) if retention_days > 0 else None
