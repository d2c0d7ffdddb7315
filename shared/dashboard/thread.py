"""Reading one conversation's thread, and what changed in it since the page last looked.

The page shows the newest messages (older ones a cursor away) with the AI details of the
replies among them, fetched by id in one batch. Live updates avoid queries when they can: the
conversation document says whether anything new arrived (its `last_message_at` moves with every
message), and messages still in flight (a reply not yet read, media still processing) are
re-read by id. Only when something arrived does a query for the newest messages run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore

from shared.dashboard.conversations import CONVERSATION_ID, ConversationRow
from shared.dashboard.cursors import DOCUMENT_ID, Cursor
from shared.dashboard.message_view import MediaUrl, MessageView, message_view
from shared.dashboard.pool import in_parallel
from shared.store.schema import (
    CALL,
    CALL_TIMEOUT,
    Direction,
    ai_responses,
    conversation_ref,
    message_ref,
    messages,
)

THREAD_PAGE = 50
MAX_WATCHED = 100
# Writers stamp created_at with their own clocks and commit a moment later; looking back a little
# catches a message committed just after the page's newest one but stamped before it.
NEW_MESSAGE_OVERLAP = timedelta(seconds=30)


@dataclass(frozen=True)
class ThreadPage:
    conversation: ConversationRow
    messages: list[MessageView]  # oldest first
    older: Cursor | None


@dataclass(frozen=True)
class ThreadUpdate:
    conversation: ConversationRow
    messages: list[MessageView]  # new or changed, oldest first


def _views(
    db: firestore.Client,
    conversation: ConversationRow,
    snaps: Iterable[firestore.DocumentSnapshot],
    media_url: MediaUrl,
) -> list[MessageView]:
    """Views of `snaps` in the given order, with the AI details of replies fetched in one batch."""
    docs = [(s.id, s.to_dict() or {}) for s in snaps if s.exists]
    # Inbound messages name the reply that answered them too; the details belong on the reply.
    ai_ids = {
        str(d["ai_response_id"])
        for _, d in docs
        if d.get("direction") == Direction.OUTBOUND
        and isinstance(d.get("ai_response_id"), str)
        and DOCUMENT_ID.match(d["ai_response_id"])
    }
    records: dict[str, Mapping[str, Any]] = {}
    if ai_ids:
        refs = [ai_responses(db, conversation.id).document(i) for i in ai_ids]
        records = {s.id: s.to_dict() or {} for s in db.get_all(refs, timeout=CALL_TIMEOUT) if s.exists}
    texts = {message_id: str(d.get("text") or "") for message_id, d in docs}
    return [
        message_view(
            message_id,
            data,
            customer_name=conversation.display_name,
            media_url=media_url,
            ai_response=records.get(str(data.get("ai_response_id")))
            if data.get("direction") == Direction.OUTBOUND
            else None,
            reply_to_text=texts.get(str(data.get("reply_to")), ""),
        )
        for message_id, data in docs
    ]


def _newest_messages(db: firestore.Client, conversation_id: str) -> Any:
    return (
        messages(db, conversation_id)
        .order_by("created_at", direction=firestore.Query.DESCENDING)
        .order_by("__name__", direction=firestore.Query.DESCENDING)
    )


def read_thread(
    db: firestore.Client,
    conversation_id: str,
    *,
    media_url: MediaUrl,
    before: Cursor | None = None,
    limit: int = THREAD_PAGE,
) -> ThreadPage | None:
    if not CONVERSATION_ID.match(conversation_id):
        return None
    query = _newest_messages(db, conversation_id)
    if before is not None:
        query = query.start_after({"created_at": before.at, "__name__": before.document_id})
    conversation_snap, message_snaps = in_parallel(
        [
            lambda: conversation_ref(db, conversation_id).get(**CALL),
            lambda: list(query.limit(limit + 1).stream(**CALL)),
        ]
    )
    if not conversation_snap.exists:
        return None
    conversation = ConversationRow.from_snapshot(conversation_snap)
    shown = message_snaps[:limit]
    older = None
    if len(message_snaps) > limit and (at := _created_at(shown[-1])) is not None:
        older = Cursor(at, shown[-1].id)
    return ThreadPage(conversation, _views(db, conversation, reversed(shown), media_url), older)


def read_updates(
    db: firestore.Client,
    conversation_id: str,
    *,
    media_url: MediaUrl,
    seen_activity: datetime | None,
    newest_shown: datetime | None,
    watched: Iterable[str],
) -> ThreadUpdate | None:
    """Messages that arrived after `seen_activity`, and the current state of the `watched` ones."""
    if not CONVERSATION_ID.match(conversation_id):
        return None
    watched_refs = [
        message_ref(db, conversation_id, message_id)
        for message_id in list(dict.fromkeys(w for w in watched if DOCUMENT_ID.match(w)))[:MAX_WATCHED]
    ]
    conversation_snap, watched_snaps = in_parallel(
        [
            lambda: conversation_ref(db, conversation_id).get(**CALL),
            lambda: list(db.get_all(watched_refs, timeout=CALL_TIMEOUT)) if watched_refs else [],
        ]
    )
    if not conversation_snap.exists:
        return None
    conversation = ConversationRow.from_snapshot(conversation_snap)
    snaps: dict[str, firestore.DocumentSnapshot] = {s.id: s for s in watched_snaps if s.exists}
    activity = conversation.last_message_at
    if activity is not None and (seen_activity is None or activity > seen_activity):
        query = _newest_messages(db, conversation_id)
        if newest_shown is not None:
            query = query.where(
                filter=firestore.FieldFilter("created_at", ">=", newest_shown - NEW_MESSAGE_OVERLAP)
            )
        for snap in query.limit(THREAD_PAGE).stream(**CALL):
            snaps[snap.id] = snap
    ordered = sorted(snaps.values(), key=_created_key)
    return ThreadUpdate(conversation, _views(db, conversation, ordered, media_url))


def _created_at(snap: firestore.DocumentSnapshot) -> datetime | None:
    value = (snap.to_dict() or {}).get("created_at")
    return value if isinstance(value, datetime) else None


def _created_key(snap: firestore.DocumentSnapshot) -> tuple[float, str]:
    at = _created_at(snap)
    return (at.timestamp() if at else 0.0, snap.id)
