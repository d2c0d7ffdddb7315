"""Erasing one customer's data from Firestore, page by page, resumable, counted on its record.

An erasure is a document `erasures/{id}`. While it runs it holds what it still has to erase (the
conversation ids and the customer's WhatsApp id, `pending`), so an erasure interrupted anywhere
is finished by running it again (`python -m shared.dashboard.erasure resume ID`); each page of
deletions and the count it adds to the record are one batch, so the counts are exact however
often it is resumed. When done, `pending` is deleted: what stays is who asked, when, the scope
and how much went, and nothing about the customer.

Per conversation: every document of every subcollection (messages, AI responses, operator sends
and whatever is added later: they are listed, not named), statuses parked for it, its usage
counters, then the conversation itself together with the lifetime counters it moved (the
overview's conversations and opted-out customers). The conversations are every one that names
the customer's phone or user id, and the links that lead to them (shared/store/identity.py).
Across conversations: the quarantine entries whose body names the customer, with their chunks. The caller erases the media objects
first (the bucket is not Firestore's).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.store import stats
from shared.store.consent import OPTED_OUT
from shared.store.identity import LINK
from shared.store.schema import (
    CALL,
    ERASURES,
    ORPHAN_STATUSES,
    business_number,
    conversation_id,
    conversation_ref,
    conversations,
    customer_usage_ref,
    erasure_ref,
    quarantine,
    quarantine_body_chunks,
)

PAGE_SIZE = 250  # documents deleted per batch (a batch takes 500 writes; the count is one more)
MAX_CONVERSATIONS = 500  # business numbers one customer can have written to, with room to spare
MAX_ANY = 30  # values one array-contains-any filter takes


class ErasureState:
    RUNNING = "running"
    DONE = "done"


@dataclass
class Erasure:
    id: str
    state: str
    pending_conversations: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)  # the customer's; only while it runs
    counts: dict[str, int] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


CUSTOMER_FIELDS = ("wa_id", "user_id", "parent_user_id")  # how a conversation names its customer


def conversations_of(
    db: firestore.Client, identifiers: Iterable[str], phone_number_id: str | None
) -> list[str]:
    """Every conversation document that is the customer's: the conversations that name any of
    their identifiers (on one business number, or on all), the documents keyed by those
    identifiers, and the links (`moved_to`) that lead to any of these (shared/store/identity.py)."""
    identifiers = sorted({i for i in identifiers if i})
    found: set[str] = set()
    if phone_number_id:
        found.update(conversation_id(phone_number_id, i) for i in identifiers)
    for name in CUSTOMER_FIELDS:
        for identifier in identifiers:
            query = (
                conversations(db).where(filter=FieldFilter(name, "==", identifier)).limit(MAX_CONVERSATIONS)
            )
            for snap in query.select([]).stream(**CALL):
                if not phone_number_id or business_number(snap.id) == phone_number_id:
                    found.add(snap.id)
    if not phone_number_id:
        numbers = {business_number(c) for c in found}
        found.update(conversation_id(n, i) for n in numbers for i in identifiers)
    for target in sorted(found):
        links = conversations(db).where(filter=FieldFilter(LINK, "==", target)).limit(MAX_CONVERSATIONS)
        found.update(snap.id for snap in links.select([]).stream(**CALL))
    return sorted(found)


def start(
    db: firestore.Client,
    identifiers: Iterable[str],
    *,
    phone_number_id: str | None,
    operator: str,
    via: str,
) -> Erasure:
    """Open the erasure of the customer known by `identifiers` (phone, BSUID) on one business
    number, or on every one when `phone_number_id` is None."""
    identifiers = sorted({i for i in identifiers if i})
    if not identifiers:
        raise ValueError("an erasure needs the customer's phone number or user id")
    targets = conversations_of(db, identifiers, phone_number_id)
    erasure_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)
    now = datetime.now(UTC)
    data = {
        "state": ErasureState.RUNNING,
        "requested_by": operator,
        "via": via,
        "requested_at": now,
        "scope": "one business number" if phone_number_id else "every business number",
        "business_numbers": sorted({business_number(t) for t in targets}),
        "pending": {"identifiers": identifiers, "conversations": targets},
        "counts": {},
    }
    batch = db.batch()
    batch.create(erasure_ref(db, erasure_id), data)
    for target in targets:
        # The dashboard shows an erasure under way on the conversation (and offers to resume it).
        batch.set(conversation_ref(db, target), {"erasure_id": erasure_id}, merge=True)
    batch.commit(**CALL)
    return Erasure(erasure_id, ErasureState.RUNNING, list(targets), identifiers, {}, data)


def load(db: firestore.Client, erasure_id: str) -> Erasure | None:
    snap = erasure_ref(db, erasure_id).get(**CALL)
    if not snap.exists:
        return None
    data = snap.to_dict() or {}
    pending = data.get("pending") or {}
    return Erasure(
        erasure_id,
        str(data.get("state")),
        list(pending.get("conversations") or []),
        [str(i) for i in pending.get("identifiers") or []],
        {k: int(v) for k, v in (data.get("counts") or {}).items()},
        data,
    )


def unfinished(db: firestore.Client, limit: int = 50) -> list[Erasure]:
    query = (
        db.collection(ERASURES).where(filter=FieldFilter("state", "==", ErasureState.RUNNING)).limit(limit)
    )
    return [e for snap in query.stream(**CALL) if (e := load(db, snap.id)) is not None]


def _delete_page(
    db: firestore.Client, erasure: Erasure, refs: Iterable[firestore.DocumentReference], counted: str
) -> int:
    refs = list(refs)
    if not refs:
        return 0
    batch = db.batch()
    for ref in refs:
        batch.delete(ref)
    batch.update(erasure_ref(db, erasure.id), {f"counts.{counted}": firestore.Increment(len(refs))})
    batch.commit(**CALL)
    erasure.counts[counted] = erasure.counts.get(counted, 0) + len(refs)
    return len(refs)


def _drain(db: firestore.Client, erasure: Erasure, query: Any, counted: str) -> None:
    """Delete what `query` finds, a page at a time, until it finds nothing."""
    while _delete_page(
        db, erasure, (snap.reference for snap in query.limit(PAGE_SIZE).stream(**CALL)), counted
    ):
        pass


def erase_conversation_documents(db: firestore.Client, erasure: Erasure, conv_id: str) -> None:
    """Everything Firestore holds of one conversation, the conversation document last."""
    conv = conversation_ref(db, conv_id)
    for collection in conv.collections(**CALL):
        _drain(db, erasure, collection.select([]), collection.id)
    parked = db.collection(ORPHAN_STATUSES).where(filter=FieldFilter("conversation_id", "==", conv_id))
    _drain(db, erasure, parked.select([]), "parked_statuses")
    usage = customer_usage_ref(db, conv_id)
    if usage.get(**CALL).exists:
        _delete_page(db, erasure, [usage], "usage_counters")

    snap = conv.get(**CALL)
    batch = db.batch()
    if snap.exists:
        data = snap.to_dict() or {}
        batch.delete(conv)
        lifetime: dict[str, stats.Number] = {}
        if data.get("created_at") or data.get("message_count"):
            lifetime["conversations"] = -1  # it was counted when it started
        if data.get(OPTED_OUT):
            lifetime[OPTED_OUT] = -1
        stats.add_lifetime_increments(batch, db, lifetime, conv_id)
    batch.update(
        erasure_ref(db, erasure.id),
        {
            "counts.conversations": firestore.Increment(1 if snap.exists else 0),
            "pending.conversations": firestore.ArrayRemove([conv_id]),
        },
    )
    batch.commit(**CALL)
    erasure.counts["conversations"] = erasure.counts.get("conversations", 0) + (1 if snap.exists else 0)
    erasure.pending_conversations.remove(conv_id)


def erase_quarantine_entries(db: firestore.Client, erasure: Erasure) -> None:
    """Quarantined webhook bodies that name the customer, with their raw chunks."""
    query = (
        quarantine(db)
        .where(filter=FieldFilter("wa_ids", "array_contains_any", erasure.identifiers[:MAX_ANY]))
        .select([])
    )
    while True:
        entries = list(query.limit(PAGE_SIZE).stream(**CALL))
        if not entries:
            return
        for entry in entries:
            _drain(db, erasure, quarantine_body_chunks(db, entry.id).select([]), "quarantine_chunks")
        _delete_page(db, erasure, (e.reference for e in entries), "quarantine_entries")


def count(db: firestore.Client, erasure: Erasure, counted: str, amount: int) -> None:
    """Add `amount` to one count of the record (the media objects the caller deleted)."""
    if amount:
        erasure_ref(db, erasure.id).update({f"counts.{counted}": firestore.Increment(amount)}, **CALL)
        erasure.counts[counted] = erasure.counts.get(counted, 0) + amount


def finish(db: firestore.Client, erasure: Erasure) -> None:
    """Done: the record forgets who the customer was and keeps who asked, when and how much went."""
    erasure_ref(db, erasure.id).update(
        {"state": ErasureState.DONE, "finished_at": datetime.now(UTC), "pending": firestore.DELETE_FIELD},
        **CALL,
    )
    erasure.state = ErasureState.DONE
    erasure.identifiers = []
