"""The Firestore data model in one place: collection names, document references, lifecycles, and
the call policy every read and write uses (ARCHITECTURE.md describes the documents).

Every Firestore path in the system is built here, so a reader finds the whole model in one file
and a writer and its reader cannot disagree on a name or a key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.cloud import firestore

CONVERSATIONS = "conversations"
MESSAGES = "messages"  # under a conversation: inbound and outbound alike
AI_RESPONSES = "ai_responses"  # under a conversation: one record per reply
OPERATOR_SENDS = "operator_sends"  # under a conversation: one claim per operator send
QUARANTINE = "quarantine"
QUARANTINE_BODY_CHUNKS = "body_chunks"  # under a quarantine entry: the raw body when it does not fit
WEBHOOK_ERRORS = "webhook_errors"
ORPHAN_STATUSES = "orphan_statuses"  # statuses that arrived before their message was recorded
STATS_SHARDS = "stats_shards"
TEMPLATES = "templates"  # the business account's message templates, by Meta's template id
REENGAGEMENTS = "reengagements"  # under a conversation: one claim per re-engagement template sent
RATE_CARDS = "rate_cards"  # the prices the cost ledger computes with (`rate_cards/current`)
CUSTOMER_USAGE = "customer_usage"  # per conversation: its messages and model tokens in the current windows
NUMBER_SPEND = "number_spend"  # per business number and UTC day, sharded: what the model cost
ERASURES = "erasures"  # one per erasure: progress while it runs, then how much went (no personal data)
BUSINESS_NUMBERS = "business_numbers"  # one per phone_number_id: its settings (business_numbers.py)
KNOWLEDGE_DOCUMENTS = "knowledge_documents"  # the business's documents an operator added
KNOWLEDGE_PASSAGES = "knowledge_passages"  # their passages, each with its `embedding` vector
# A knowledge document's `scope` when it serves every business number (otherwise its phone_number_id).
ALL_NUMBERS = "all"

# Documents of these collections carry `expire_at`, which Firestore's TTL policy deletes them by
# (terraform/firestore.tf). Conversations and counters are kept: one small document per customer
# and per day.
EXPIRING_COLLECTIONS = frozenset(
    {
        MESSAGES,
        AI_RESPONSES,
        OPERATOR_SENDS,
        QUARANTINE,
        QUARANTINE_BODY_CHUNKS,
        WEBHOOK_ERRORS,
        ORPHAN_STATUSES,
    }
)


class InboundStatus(StrEnum):
    """Where an inbound message is: media waits for the media function, then the reply."""

    RECEIVED = "received"  # its media is being downloaded and prepared
    READY = "ready"  # waiting for a reply
    ANSWERED = "answered"
    FAILED = "failed"  # no reply will come without an operator's retry
    IGNORED = "ignored"  # recorded only: reactions, unsupported and system messages
    HISTORY = "history"  # synced from the Business app's past chats: context, never answered


class MediaStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"  # refused or unavailable for good, with a reason a person can read


class JobState(StrEnum):
    """The Pub/Sub job an inbound message needs, tracked on the message (`job.state`)."""

    PENDING = "pending"  # owed: being published under a claim, published but not yet received, or lost
    PUBLISHED = (
        "published"  # known to be in Pub/Sub: its consumer received it, or a redelivery saw it accepted
    )


class KnowledgeState(StrEnum):
    """Where a knowledge document is; only a READY one's current passages are ever retrieved."""

    INGESTING = "ingesting"  # its first passages are being embedded and written
    READY = "ready"
    REMOVING = "removing"  # its passages are being deleted, then the document itself


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class SentBy(StrEnum):
    """Who wrote an outbound message."""

    AI = "ai"
    OPERATOR = "operator"
    BUSINESS_APP = "business_app"  # typed on the business's own phone or WhatsApp Web, not through us


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
# The keyword arguments of every Firestore call: `ref.get(**CALL)`, `batch.commit(**CALL)`.
CALL: Final[dict[str, Any]] = {"retry": CALL_RETRY, "timeout": CALL_TIMEOUT}


def conversation_id(phone_number_id: str, wa_id: str) -> str:
    """One conversation per (business number, WhatsApp user)."""
    return f"{phone_number_id}_{wa_id}"


def business_number(conv_id: str) -> str:
    """The business number (`phone_number_id`) a conversation id was made with."""
    return conv_id.split("_", 1)[0]


def name_key(name: str) -> str:
    """The form a display name is stored and searched in (`display_name_lower`).

    `casefold`, not `lower`: "Straße" and "STRASSE" must find each other.
    """
    return " ".join(name.split()).casefold()


def expire_at(now: datetime, retention_days: int) -> datetime | None:
    """When Firestore's TTL policy may delete a document; None keeps it forever."""
    return now + timedelta(days=retention_days) if retention_days > 0 else None


# -- references ------------------------------------------------------------------------------------


def conversations(db: firestore.Client) -> firestore.CollectionReference:
    return db.collection(CONVERSATIONS)


def conversation_ref(db: firestore.Client, conv_id: str) -> firestore.DocumentReference:
    return db.collection(CONVERSATIONS).document(conv_id)


def messages(db: firestore.Client, conv_id: str) -> firestore.CollectionReference:
    return conversation_ref(db, conv_id).collection(MESSAGES)


def message_ref(db: firestore.Client, conv_id: str, message_id: str) -> firestore.DocumentReference:
    return messages(db, conv_id).document(message_id)


def ai_responses(db: firestore.Client, conv_id: str) -> firestore.CollectionReference:
    return conversation_ref(db, conv_id).collection(AI_RESPONSES)


def operator_send_ref(db: firestore.Client, conv_id: str, key: str) -> firestore.DocumentReference:
    return conversation_ref(db, conv_id).collection(OPERATOR_SENDS).document(key)


def quarantine(db: firestore.Client) -> firestore.CollectionReference:
    return db.collection(QUARANTINE)


def quarantine_body_chunks(db: firestore.Client, entry_id: str) -> firestore.CollectionReference:
    return quarantine(db).document(entry_id).collection(QUARANTINE_BODY_CHUNKS)


def webhook_errors(db: firestore.Client) -> firestore.CollectionReference:
    return db.collection(WEBHOOK_ERRORS)


def orphan_status_ref(db: firestore.Client, wamid: str) -> firestore.DocumentReference:
    return db.collection(ORPHAN_STATUSES).document(wamid)


def business_numbers(db: firestore.Client) -> firestore.CollectionReference:
    return db.collection(BUSINESS_NUMBERS)


def business_number_ref(db: firestore.Client, phone_number_id: str) -> firestore.DocumentReference:
    return db.collection(BUSINESS_NUMBERS).document(phone_number_id)


def knowledge_documents(db: firestore.Client) -> firestore.CollectionReference:
    return db.collection(KNOWLEDGE_DOCUMENTS)


def knowledge_document_ref(db: firestore.Client, document_id: str) -> firestore.DocumentReference:
    return db.collection(KNOWLEDGE_DOCUMENTS).document(document_id)


def knowledge_passages(db: firestore.Client) -> firestore.CollectionReference:
    return db.collection(KNOWLEDGE_PASSAGES)


def stats_shard_ref(db: firestore.Client, name: str) -> firestore.DocumentReference:
    return db.collection(STATS_SHARDS).document(name)


def templates(db: firestore.Client) -> firestore.CollectionReference:
    return db.collection(TEMPLATES)


def template_ref(db: firestore.Client, template_id: str) -> firestore.DocumentReference:
    return db.collection(TEMPLATES).document(template_id)


def reengagement_ref(db: firestore.Client, conv_id: str, key: str) -> firestore.DocumentReference:
    return conversation_ref(db, conv_id).collection(REENGAGEMENTS).document(key)


def rate_card_ref(db: firestore.Client) -> firestore.DocumentReference:
    return db.collection(RATE_CARDS).document("current")


def customer_usage_ref(db: firestore.Client, conv_id: str) -> firestore.DocumentReference:
    return db.collection(CUSTOMER_USAGE).document(conv_id)


def number_spend_ref(db: firestore.Client, name: str) -> firestore.DocumentReference:
    return db.collection(NUMBER_SPEND).document(name)


def erasure_ref(db: firestore.Client, erasure_id: str) -> firestore.DocumentReference:
    return db.collection(ERASURES).document(erasure_id)
