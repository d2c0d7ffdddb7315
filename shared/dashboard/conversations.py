"""Reading conversations: the list (newest activity first, filtered, paged), search, one conversation.

Every read is one query with an order and a limit of what the page shows (plus one row to know
whether a next page exists). The filtered lists need the composite indexes (flag, then
last_message_at descending) declared in terraform/firestore.tf.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.dashboard.cursors import Cursor
from shared.store.consent import may_message
from shared.store.schema import CALL, conversations, name_key
from shared.store.stats import table_of

PAGE_SIZE = 25
SEARCH_LIMIT = 25
MAX_SEARCH_CHARS = 64
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,159}$")  # no "..", no reserved "__x__"
# Sorts after every character a name or number will contain: the end of a prefix range.
PREFIX_END = "\uf8ff"


# WhatsApp lets a business send free-form messages only within 24 hours of the customer's last one.
CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)
CLOSING_SOON = timedelta(hours=1)


class ConversationFilter(StrEnum):
    ALL = ""
    NEEDS_ATTENTION = "attention"
    AI_PAUSED = "paused"
    FAILED = "failed"
    OPTED_OUT = "opted_out"
    WINDOW_CLOSING = "closing"  # the window closes within the hour
    CLOSED_WAITING = "closed"  # the window closed with the customer's last message unanswered

    @property
    def field(self) -> str | None:
        return {
            ConversationFilter.NEEDS_ATTENTION: "needs_attention",
            ConversationFilter.AI_PAUSED: "ai_paused",
            ConversationFilter.FAILED: "has_failure",
            ConversationFilter.OPTED_OUT: "opted_out",
        }.get(self)

    @classmethod
    def parse(cls, value: str | None) -> ConversationFilter:
        try:
            return cls(value or "")
        except ValueError:
            return cls.ALL


@dataclass(frozen=True)
class Answering:
    """Who is answering a conversation now; `until` when the assistant waits for a human's pause."""

    who: str  # assistant | operator | business_app
    label: str
    until: datetime | None = None


@dataclass(frozen=True)
class ConversationRow:
    id: str
    wa_id: str
    phone_number_id: str
    display_name: str
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    preview: str
    message_count: int
    ai_paused: bool
    needs_attention: bool
    has_failure: bool
    user_id: str = ""  # the BSUID
    username: str = ""
    human_reply_by: str = ""  # business_app | operator: who wrote last as a person
    human_reply_until: datetime | None = None  # the assistant waits until then
    opted_out: bool = False  # the customer wrote STOP: nothing may be sent until they write START
    limited: Mapping[str, Any] | None = None  # the limit the customer or the number is over, if any
    erasure_id: str = ""  # an erasure of this customer's data started and has not finished
    handoff_waiting: bool = False  # the assistant handed it to a person, who has not resumed the AI
    handoff_reason: str = ""
    awaiting_reply: bool = False
    cost_micros: int = 0  # at the card of when each cost was recorded: what the list sorts by
    billed: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    tokens_by_model: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        if self.display_name:
            return self.display_name
        if self.username:
            return f"@{self.username}"
        return f"+{self.wa_id}" if self.wa_id else self.user_id or self.id.split("_", 1)[-1]

    @property
    def identity_line(self) -> str:
        """The customer's identifiers: phone when known, username, BSUID (`US.1349...`)."""
        parts = [f"+{self.wa_id}" if self.wa_id.isdigit() else self.wa_id]
        if self.username:
            parts.append(f"@{self.username}")
        parts.append(self.user_id)
        return " · ".join(p for p in parts if p)

    def answering(self, now: datetime | None = None) -> Answering:
        """Who answers this customer now: the assistant, unless an operator paused it, or a human
        replied lately (the owner from the Business app, an operator) and it waits until then."""
        if self.ai_paused:
            return Answering("operator", "Operator (AI paused)")
        now = now or datetime.now(UTC)
        if self.human_reply_until is not None and self.human_reply_until > now:
            who = "Business app" if self.human_reply_by == "business_app" else "Operator"
            return Answering(self.human_reply_by or "operator", who, self.human_reply_until)
        return Answering("assistant", "Assistant")

    @property
    def address(self) -> str:
        """Whom a message goes to: the phone when known, else the BSUID (`client.addressed`)."""
        return self.wa_id or self.user_id or self.id.split("_", 1)[-1]

    @property
    def window_closes_at(self) -> datetime | None:
        """When the customer service window closes (24 hours after the customer last wrote)."""
        return self.last_inbound_at + CUSTOMER_SERVICE_WINDOW if self.last_inbound_at else None

    def window_open(self, now: datetime | None = None) -> bool:
        closes = self.window_closes_at
        return closes is not None and (now or datetime.now(UTC)) < closes

    def window_state(self, now: datetime | None = None) -> str:
        """ "open", "closing" (within the hour) or "closed" (or never opened)."""
        now = now or datetime.now(UTC)
        closes = self.window_closes_at
        if closes is None or now >= closes:
            return "closed"
        return "closing" if closes - now <= CLOSING_SOON else "open"

    @classmethod
    def from_snapshot(cls, snap: firestore.DocumentSnapshot) -> ConversationRow:
        return cls.from_data(snap.id, snap.to_dict() or {})

    @classmethod
    def from_data(cls, conversation_id: str, data: Mapping[str, Any]) -> ConversationRow:
        def when(name: str) -> datetime | None:
            value = data.get(name)
            return value if isinstance(value, datetime) else None

        return cls(
            id=conversation_id,
            wa_id=str(data.get("wa_id") or ""),
            phone_number_id=str(data.get("phone_number_id") or ""),
            display_name=str(data.get("display_name") or ""),
            last_message_at=when("last_message_at"),
            last_inbound_at=when("last_inbound_at"),
            preview=str(data.get("last_message_preview") or ""),
            message_count=int(data.get("message_count") or 0),
            ai_paused=bool(data.get("ai_paused")),
            needs_attention=bool(data.get("needs_attention")),
            has_failure=bool(data.get("has_failure")),
            user_id=str(data.get("user_id") or ""),
            username=str(data.get("username") or ""),
            human_reply_by=str(data.get("human_reply_by") or ""),
            human_reply_until=when("human_reply_until"),
            opted_out=not may_message(data),
            limited=data.get("limited") if isinstance(data.get("limited"), Mapping) else None,
            erasure_id=str(data.get("erasure_id") or ""),
            handoff_waiting=bool(data.get("handoff_waiting")),
            handoff_reason=str((data.get("handoff") or {}).get("reason") or "")
            if isinstance(data.get("handoff"), Mapping)
            else "",
            awaiting_reply=bool(data.get("awaiting_reply")),
            cost_micros=int(data.get("cost_micros") or 0),
            billed=table_of(data.get("billed")),
            tokens_by_model=table_of(data.get("tokens_by_model")),
        )

    def cursor(self) -> Cursor | None:
        return Cursor(self.last_message_at, self.id) if self.last_message_at else None


@dataclass(frozen=True)
class ConversationPage:
    rows: list[ConversationRow]
    next_cursor: Cursor | None


def _newest_first(query: Any) -> Any:
    return query.order_by("last_message_at", direction=firestore.Query.DESCENDING).order_by(
        "__name__", direction=firestore.Query.DESCENDING
    )


def list_conversations(
    db: firestore.Client,
    *,
    only: ConversationFilter = ConversationFilter.ALL,
    after: Cursor | None = None,
    page_size: int = PAGE_SIZE,
) -> ConversationPage:
    query: Any = conversations(db)
    if only.field:
        query = query.where(filter=FieldFilter(only.field, "==", True))
    if only in (ConversationFilter.WINDOW_CLOSING, ConversationFilter.CLOSED_WAITING):
        return _by_window(db, only, page_size)
    query = _newest_first(query)
    if after is not None:
        query = query.start_after({"last_message_at": after.at, "__name__": after.document_id})
    snaps = list(query.limit(page_size + 1).stream(**CALL))
    rows = [ConversationRow.from_snapshot(s) for s in snaps[:page_size]]
    more = len(snaps) > page_size and rows and rows[-1].cursor()
    return ConversationPage(rows, rows[-1].cursor() if more else None)


def _by_window(db: firestore.Client, only: ConversationFilter, limit: int) -> ConversationPage:
    """Conversations by where their window stands, the most urgent first, one page.

    Closing within the hour: the customer wrote between 24 and 23 hours ago (a range on
    `last_inbound_at`, the single-field index). Closed and waiting: the customer's last message
    is unanswered (`awaiting_reply`) and older than 24 hours (the composite index
    awaiting_reply + last_inbound_at in terraform/firestore.tf).
    """
    now = datetime.now(UTC)
    closed_before = now - CUSTOMER_SERVICE_WINDOW
    query: Any = conversations(db)
    if only is ConversationFilter.WINDOW_CLOSING:
        query = (
            query.where(filter=FieldFilter("last_inbound_at", ">", closed_before))
            .where(filter=FieldFilter("last_inbound_at", "<=", closed_before + CLOSING_SOON))
            .order_by("last_inbound_at")
        )
    else:
        query = (
            query.where(filter=FieldFilter("awaiting_reply", "==", True))
            .where(filter=FieldFilter("last_inbound_at", "<=", closed_before))
            .order_by("last_inbound_at", direction=firestore.Query.DESCENDING)
        )
    return ConversationPage(
        [ConversationRow.from_snapshot(s) for s in query.limit(limit).stream(**CALL)], None
    )


def costliest_conversations(db: firestore.Client, limit: int = PAGE_SIZE) -> list[ConversationRow]:
    """The conversations that cost the most so far (by `cost_micros`, the single-field index)."""
    query = conversations(db).order_by("cost_micros", direction=firestore.Query.DESCENDING).limit(limit)
    return [ConversationRow.from_snapshot(s) for s in query.stream(**CALL)]


def waiting_for_a_person(db: firestore.Client, limit: int = PAGE_SIZE) -> list[ConversationRow]:
    """Conversations the assistant handed over that no operator has resumed, latest handoff first:
    the conversations list shows them above all others."""
    query = (
        conversations(db)
        .where(filter=FieldFilter("handoff_waiting", "==", True))
        .order_by("handoff_at", direction=firestore.Query.DESCENDING)
        .limit(limit)
    )
    return [ConversationRow.from_snapshot(s) for s in query.stream(**CALL)]


def latest_conversations(db: firestore.Client, limit: int) -> list[ConversationRow]:
    return list_conversations(db, page_size=limit).rows


def changed_since(db: firestore.Client, since: datetime, limit: int = PAGE_SIZE) -> list[ConversationRow]:
    """Conversations with activity after `since`, newest first (for the live list)."""
    query = _newest_first(conversations(db).where(filter=FieldFilter("last_message_at", ">", since)))
    return [ConversationRow.from_snapshot(s) for s in query.limit(limit).stream(**CALL)]


def _prefix_query(db: firestore.Client, field: str, prefix: str, limit: int) -> list[ConversationRow]:
    query = (
        conversations(db)
        .where(filter=FieldFilter(field, ">=", prefix))
        .where(filter=FieldFilter(field, "<", prefix + PREFIX_END))
        .order_by(field)
        .limit(limit)
    )
    return [ConversationRow.from_snapshot(s) for s in query.stream(**CALL)]


def _activity(row: ConversationRow) -> float:
    return row.last_message_at.timestamp() if row.last_message_at else 0.0


_BSUID_PREFIX = re.compile(r"^[A-Za-z]{2}\.[A-Za-z0-9.]*$")


def search_conversations(db: firestore.Client, text: str, limit: int = SEARCH_LIMIT) -> list[ConversationRow]:
    """Conversations whose phone, BSUID, username or name starts with the text typed.

    Digits (with the usual `+`, spaces, dashes, brackets) are a phone number; `CC.` and more a
    BSUID (`US.1349...`); `@name` a username; anything else a name (casefolded) or a username.
    Prefix ranges on `wa_id`, `user_id`, `username` and `display_name_lower` are served by
    single-field indexes; a substring search would need reading every conversation.
    """
    text = " ".join(text.split())[:MAX_SEARCH_CHARS]
    if not text:
        return []
    digits = re.sub(r"\D", "", text)
    if digits and not re.sub(r"[\d\s+().-]", "", text):
        rows = _prefix_query(db, "wa_id", digits, limit)
    elif _BSUID_PREFIX.match(text):
        rows = _prefix_query(db, "user_id", text[:2].upper() + text[2:], limit)
    elif text.startswith("@"):
        rows = _prefix_query(db, "username", text[1:].casefold(), limit)
    else:
        rows = _prefix_query(db, "display_name_lower", name_key(text), limit)
        if " " not in text:
            rows += _prefix_query(db, "username", text.casefold(), limit)
    unique = {row.id: row for row in rows}
    return sorted(unique.values(), key=_activity, reverse=True)[:limit]


def get_conversation(db: firestore.Client, conversation_id: str) -> ConversationRow | None:
    if not CONVERSATION_ID.match(conversation_id):
        return None
    snap = conversations(db).document(conversation_id).get(**CALL)
    return ConversationRow.from_snapshot(snap) if snap.exists else None
