"""Reading the quarantine: webhook bodies that were signed but could not be understood.

The list reads only each entry's reason, place and size; the stored body and part (up to ~900 KB
together) are read only when an operator opens that one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.dashboard.cursors import DOCUMENT_ID, Cursor
from shared.store import schema
from shared.store.schema import CALL

PAGE_SIZE = 25
# The list needs only these; `body` and `part` together may be close to 1 MiB.
LIST_FIELDS = ["reason", "path", "size_bytes", "truncated", "received_at", "sha256"]


@dataclass(frozen=True)
class QuarantineEntry:
    id: str
    reason: str
    path: str
    size_bytes: int
    truncated: bool
    received_at: datetime | None
    sha256: str
    body: str = ""
    part: str = ""
    part_truncated: bool = False
    part_size_bytes: int = 0
    body_chunks: int = 0  # the raw body is kept in this many chunks when it could not be shown whole

    @classmethod
    def from_snapshot(cls, snap: firestore.DocumentSnapshot) -> QuarantineEntry:
        data: dict[str, Any] = snap.to_dict() or {}
        received = data.get("received_at")
        return cls(
            id=snap.id,
            reason=str(data.get("reason") or ""),
            path=str(data.get("path") or ""),
            size_bytes=int(data.get("size_bytes") or 0),
            truncated=bool(data.get("truncated")),
            received_at=received if isinstance(received, datetime) else None,
            sha256=str(data.get("sha256") or ""),
            body=str(data.get("body") or ""),
            part=str(data.get("part") or ""),
            part_truncated=bool(data.get("part_truncated")),
            part_size_bytes=int(data.get("part_size_bytes") or 0),
            body_chunks=int(data.get("body_chunks") or 0),
        )


@dataclass(frozen=True)
class QuarantinePage:
    entries: list[QuarantineEntry]
    next_cursor: Cursor | None


def list_quarantine(
    db: firestore.Client, *, after: Cursor | None = None, page_size: int = PAGE_SIZE
) -> QuarantinePage:
    query = (
        schema.quarantine(db)
        .select(LIST_FIELDS)
        .order_by("received_at", direction=firestore.Query.DESCENDING)
        .order_by("__name__", direction=firestore.Query.DESCENDING)
    )
    if after is not None:
        query = query.start_after({"received_at": after.at, "__name__": after.document_id})
    snaps = list(query.limit(page_size + 1).stream(**CALL))
    entries = [QuarantineEntry.from_snapshot(s) for s in snaps[:page_size]]
    next_cursor = None
    if len(snaps) > page_size and entries[-1].received_at is not None:
        next_cursor = Cursor(entries[-1].received_at, entries[-1].id)
    return QuarantinePage(entries, next_cursor)


def get_quarantine_entry(db: firestore.Client, entry_id: str) -> QuarantineEntry | None:
    if not DOCUMENT_ID.match(entry_id):
        return None
    snap = schema.quarantine(db).document(entry_id).get(**CALL)
    return QuarantineEntry.from_snapshot(snap) if snap.exists else None
