"""The reply lease and the life of one reply, in Firestore.

**Reply lease** (`conversations/{id}.reply_lease`): at most one instance generates a reply for
a conversation at a time. A job that finds the lease taken sets `reply_wanted` instead of
waiting; the holder sees the flag when it tries to release and goes round once more, so a
message that arrives while a reply is being written is answered next, never forgotten. Taking
the lease also records the arrival of the job that asked for it (`inbound.plan_arrival`).

A holder that dies never sees the flag, and only the lease running out tells that it died. So
one of the jobs that found the lease taken, the conversation's `reply_waiter`, is not done with
it: it is delivered again (`LeaseOutcome.WAIT`) until the holder lets go or the lease runs out,
and then answers what is waiting. The others leave it to that one, so a busy conversation costs
one redelivered job per reply, not one per message.

**Reply record** (`conversations/{id}/ai_responses/{id}`): its id is derived from the set of
inbound messages it answers, so a redelivered job finds the record of the work already done.
Sending is fenced: before each part goes out, a transaction checks that this instance still
holds the lease and marks the part `in_flight`; after WhatsApp answers, the wamid is stored. A
record found with a part still in flight means an instance stopped between sending and
recording, and the part is never sent again (see docs/reply-guarantees.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.store import identity, ledger, pauses, stats
from shared.store.inbound import add_arrival_counters, plan_arrival
from shared.store.rates import current_rate_card, micros
from shared.store.schema import (
    CALL,
    CALL_TIMEOUT,
    InboundStatus,
    ai_responses,
    conversation_ref,
    expire_at,
    message_ref,
    messages,
)

BURST_LIMIT = 50  # inbound messages answered in one reply at most


class LeaseOutcome(StrEnum):
    ACQUIRED = "acquired"
    BUSY = "busy"  # another instance is replying; it will answer this message too
    WAIT = "wait"  # busy, and this job watches the lease in case its holder died: redeliver it
    PAUSED = "paused"  # an operator paused the AI for this conversation
    HUMAN = "human"  # a human replied lately: the assistant waits until their pause runs out
    MISSING = "missing"  # no such conversation
    MOVED = (
        "moved"  # the arriving message belongs to its user's conversation (`moved_to`): move it, ask there
    )


class ReplyState(StrEnum):
    GENERATING = "generating"  # asking the model (attempts counted across deliveries)
    GENERATED = "generated"  # answer stored, parts not all sent yet
    SENT = "sent"
    FAILED = "failed"  # the model or WhatsApp refused for good; an operator is told
    UNKNOWN = "unknown"  # a part may or may not have been delivered; never resent
    WITHHELD = "withheld"  # not answered on purpose: the customer opted out or is over a limit


# -- the lease -----------------------------------------------------------------------------------


def acquire_lease(
    db: firestore.Client,
    conversation_id: str,
    holder: str,
    duration: timedelta,
    *,
    arriving: str | None = None,
    published_at: datetime | None = None,
    waiter: str | None = None,
) -> tuple[LeaseOutcome, dict[str, Any]]:
    """Take the reply lease; also returns the conversation as the transaction read it.

    `waiter` names the job (the same on each of its deliveries): when the lease is taken and no
    other job is watching it, this one becomes the conversation's `reply_waiter` (WAIT).

    `arriving` names the inbound message whose job brought this call: if its arrival is not
    recorded yet, the same transaction records it and applies the message to the conversation
    (`inbound.plan_arrival`), so a reply job pays no extra round trip for it. A conversation that
    starts with this message is created here. A message that belongs to its user's conversation
    elsewhere (`identity.resolve`) takes nothing: the outcome is MOVED, and the returned mapping
    names the conversation (`moved_to`) the caller moves it to (`identity.relocate`) and asks again.
    """
    ref = conversation_ref(db, conversation_id)
    msg_ref = message_ref(db, conversation_id, arriving) if arriving else None
    seen: dict[str, Any] = {}

    @firestore.transactional
    def attempt(tx: firestore.Transaction) -> LeaseOutcome:
        refs = [ref] if msg_ref is None else [ref, msg_ref]
        snaps = {s.reference.path: s for s in tx.get_all(refs)}
        snap = snaps[ref.path]
        data = snap.to_dict() if snap.exists else None
        now = datetime.now(UTC)
        arrival = None
        if msg_ref is not None:
            msg_snap = snaps[msg_ref.path]
            message = msg_snap.to_dict() if msg_snap.exists else None
            place = None
            if message is not None:
                place = identity.resolve(db, conversation_id, message, data, tx.get_all)
                if isinstance(place, identity.Elsewhere):
                    seen.clear()
                    seen.update({identity.LINK: place.target, "link": place.link, "message": message})
                    return LeaseOutcome.MOVED
            arrival = plan_arrival(conversation_id, message, data, now, published_at, place)
        elif data is not None and identity.linked_to(data):
            seen.clear()
            seen.update({identity.LINK: identity.linked_to(data), "link": False, "message": None})
            return LeaseOutcome.MOVED
        if data is None and arrival is None:
            return LeaseOutcome.MISSING
        seen.clear()
        seen.update(data or {})
        write: dict[str, Any] = {}
        if arrival is not None:
            tx.update(msg_ref, arrival.message_fields)
            identity.add_links(tx, db, arrival.links, conversation_id, now)
            add_arrival_counters(tx, db, arrival, conversation_id, arriving or "")
            seen.update(arrival.conversation)
            write.update(arrival.conversation)
            write["message_count"] = 1 if data is None else firestore.Increment(1)

        lease = (data or {}).get("reply_lease") or {}
        if lease.get("holder") not in (None, holder) and lease.get("until") and lease["until"] > now:
            outcome = LeaseOutcome.BUSY
            write["reply_wanted"] = True
            # Asked for since the holder last looked, nobody watches the lease but maybe this job.
            watched = (data or {}).get("reply_wanted") and (data or {}).get("reply_waiter") not in (
                None,
                waiter,
            )
            if waiter is not None and not watched:
                outcome = LeaseOutcome.WAIT
                write["reply_waiter"] = waiter
        elif (data or {}).get("ai_paused"):
            outcome = LeaseOutcome.PAUSED
            write["needs_attention"] = True
        elif pauses.paused_by_human(data, now):
            outcome = LeaseOutcome.HUMAN
            write["resume_at"] = (data or {})["human_reply_until"]  # the sweep answers it then
        else:
            outcome = LeaseOutcome.ACQUIRED
            write.update(
                {
                    "reply_lease": {"holder": holder, "until": now + duration},
                    "reply_wanted": False,
                    "reply_waiter": None,
                }
            )
        if data is None:
            tx.create(ref, write)
        elif arrival is not None:
            tx.set(ref, write, merge=True)
        else:
            tx.update(ref, write)
        return outcome

    return attempt(db.transaction()), seen


def release_lease(db: firestore.Client, conversation_id: str, holder: str, duration: timedelta) -> bool:
    """Give the lease back; False (lease kept and renewed) when another job asked for a reply meanwhile."""
    ref = conversation_ref(db, conversation_id)

    @firestore.transactional
    def attempt(tx: firestore.Transaction) -> bool:
        snap = ref.get(transaction=tx)
        data = snap.to_dict() or {}
        if (data.get("reply_lease") or {}).get("holder") != holder:
            return True  # it ran out and someone else holds it; they will see everything we left
        if data.get("reply_wanted") and not data.get("ai_paused"):
            # Whatever was asked for is answered in the next round; a job asking after this
            # watches the renewed lease in its turn.
            tx.update(
                ref,
                {
                    "reply_wanted": False,
                    "reply_waiter": None,
                    "reply_lease.until": datetime.now(UTC) + duration,
                },
            )
            return False
        tx.update(ref, {"reply_lease": None})
        return True

    return attempt(db.transaction())


def drop_lease(db: firestore.Client, conversation_id: str, holder: str) -> None:
    """After a failure: let the redelivered job (or another) take over at once."""
    ref = conversation_ref(db, conversation_id)

    @firestore.transactional
    def attempt(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        if ((snap.to_dict() or {}).get("reply_lease") or {}).get("holder") == holder:
            tx.update(ref, {"reply_lease": None})

    attempt(db.transaction())


# -- messages waiting for an answer --------------------------------------------------------------


def ready_messages(db: firestore.Client, conversation_id: str) -> list[dict[str, Any]]:
    """Inbound messages ready to be answered and not answered yet, oldest first."""
    query = (
        messages(db, conversation_id)
        .where(filter=FieldFilter("status", "==", InboundStatus.READY.value))
        .order_by("created_at")
        .limit(BURST_LIMIT)
    )
    return [{**d.to_dict(), "id": d.id} for d in query.stream(**CALL)]


def recent_messages(db: firestore.Client, conversation_id: str, limit: int) -> list[dict[str, Any]]:
    """The last `limit` messages of the conversation, oldest first."""
    query = (
        messages(db, conversation_id)
        .order_by("created_at", direction=firestore.Query.DESCENDING)
        .limit(limit)
    )
    docs = [{**d.to_dict(), "id": d.id} for d in query.stream(**CALL)]
    return list(reversed(docs))


def quoted_texts(db: firestore.Client, conversation_id: str, wamids: set[str]) -> dict[str, str]:
    """Texts of the messages the burst replies to (one batched read)."""
    if not wamids:
        return {}
    refs = [message_ref(db, conversation_id, w) for w in sorted(wamids)]
    return {s.id: s.get("text") or "" for s in db.get_all(refs, timeout=CALL_TIMEOUT) if s.exists}


# -- the reply record ----------------------------------------------------------------------------


def reply_id(burst: list[dict[str, Any]]) -> str:
    """Derived from the messages answered and how often an operator asked to retry each one,
    so a redelivered job finds its reply while a deliberate retry starts a new one."""
    keys = sorted(f"{m['id']}#{int(m.get('retry_count') or 0)}" for m in burst)
    return hashlib.sha256("|".join(keys).encode()).hexdigest()[:32]


@dataclass
class ReplyRecord:
    ref: firestore.DocumentReference
    state: ReplyState
    message_ids: list[str]
    attempts: int = 0
    parts: list[str] = field(default_factory=list)
    sent_wamids: dict[str, str] = field(default_factory=dict)
    in_flight_part: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    created: bool = False  # by this delivery, with its first attempt counted

    @property
    def id(self) -> str:
        return self.ref.id


def open_reply(
    db: firestore.Client, conversation_id: str, burst: list[dict[str, Any]], retention_days: int
) -> ReplyRecord:
    """The record of the reply to exactly these messages: created now, or found from an earlier try."""
    ref = ai_responses(db, conversation_id).document(reply_id(burst))
    message_ids = [m["id"] for m in burst]
    now = datetime.now(UTC)
    data: dict[str, Any] = {
        "state": ReplyState.GENERATING.value,
        "message_ids": message_ids,
        "attempts": 1,  # this delivery's, counted as it starts (see begin_attempt)
        "attempt_started_at": now,
        "created_at": now,
        "parts": [],
        "sent_wamids": {},
        "in_flight_part": None,
        "error": None,
    }
    if (expiry := expire_at(now, retention_days)) is not None:
        data["expire_at"] = expiry
    created = True
    try:
        ref.create(data, **CALL)
    except gexc.AlreadyExists:
        created = False
        data = ref.get(**CALL).to_dict() or data
    return ReplyRecord(
        created=created,
        ref=ref,
        state=ReplyState(data["state"]),
        message_ids=list(data["message_ids"]),
        attempts=int(data.get("attempts") or 0),
        parts=list(data.get("parts") or []),
        sent_wamids=dict(data.get("sent_wamids") or {}),
        in_flight_part=data.get("in_flight_part"),
        data=data,
    )


def begin_attempt(db: firestore.Client, record: ReplyRecord) -> int:
    """Count this delivery's attempt at the reply before its work starts; returns the count.

    Counted first, so a delivery that never ends (the instance stopped at its timeout or out of
    memory) counts as much as one that raised. A record this delivery created has its first
    attempt counted already; otherwise one batched write, whose result is the new count.
    """
    if record.created:
        return record.attempts
    batch = db.batch()
    batch.update(record.ref, {"attempts": firestore.Increment(1), "attempt_started_at": datetime.now(UTC)})
    (result,) = batch.commit(**CALL)
    transforms = list(result.transform_results)
    record.attempts = int(transforms[0].integer_value) if transforms else record.attempts + 1
    return record.attempts


def record_error(record: ReplyRecord, error: str) -> None:
    """What this attempt failed with: shown to operators, and the reason if it was the last one."""
    record.ref.update({"error": {"title": error[:500]}}, **CALL)
    record.data["error"] = {"title": error[:500]}


def save_answer(
    db: firestore.Client,
    record: ReplyRecord,
    fields: dict[str, Any],
    parts: list[str],
    *,
    with_answer: Sequence[Callable[[firestore.WriteBatch], None]] = (),
) -> None:
    """The model's answer, before anything is sent: a redelivery sends it without asking again.

    `with_answer` adds writes that take effect exactly when the answer is stored, in its batch:
    its cost on the limits' counters (`usage.add_model_spend`), a handoff's pause.
    """
    batch = db.batch()
    batch.update(record.ref, {**fields, "parts": parts, "state": ReplyState.GENERATED.value, "error": None})
    for add in with_answer:
        add(batch)
    counted = stats.model_answered(
        input_tokens=fields.get("input_tokens"),
        output_tokens=fields.get("output_tokens"),
        thinking_tokens=fields.get("thinking_tokens"),
        cached_tokens=fields.get("cached_tokens"),
        latency_ms=fields.get("latency_ms"),
    )
    tokens = ledger.model_tokens(
        str(fields.get("model") or "unknown"),
        input_tokens=int(fields.get("input_tokens") or 0),
        cached_tokens=int(fields.get("cached_tokens") or 0),
        output_tokens=int(fields.get("output_tokens") or 0),
        thinking_tokens=int(fields.get("thinking_tokens") or 0),
    )
    increments = {**counted, **tokens, **stats.reply_split(len(parts))}
    stats.add_stat_increments(batch, db, datetime.now(UTC), increments, record.id)
    if tokens:
        # The conversation's own ledger: its tokens, and their cost at today's card for sorting.
        card = current_rate_card(db)
        cost = card.tokens_cost(ledger.as_table(tokens))
        conversation = record.ref.parent.parent
        batch.set(conversation, stats.nested_increments({**tokens, "cost_micros": micros(cost)}), merge=True)
    batch.commit(**CALL)
    record.data.update(fields)
    record.parts = parts
    record.state = ReplyState.GENERATED


def save_canned(
    db: firestore.Client,
    record: ReplyRecord,
    text: str,
    wording: str,
    *,
    conversation_id: str,
    reason: dict[str, Any] | None = None,
) -> None:
    """A message the assistant sends without the model (an opt-out confirmation, a limit notice),
    stored like an answer so it goes out through the same sent-once path, exactly once. `reason`
    (why the model was not asked) is kept on each message it answers."""
    batch = db.batch()
    batch.update(
        record.ref,
        {
            "model": None,
            "canned": wording,
            "text": text,
            "parts": [text],
            "state": ReplyState.GENERATED.value,
            "error": None,
            "withheld": reason,
        },
    )
    if reason is not None:
        for message_id in record.message_ids:
            batch.update(message_ref(db, conversation_id, message_id), {"withheld": reason})
    batch.commit(**CALL)
    record.parts = [text]
    record.state = ReplyState.GENERATED


def withhold(
    db: firestore.Client,
    conversation_id: str,
    record: ReplyRecord,
    reason: dict[str, Any],
    *,
    conversation: dict[str, Any] | None = None,
) -> None:
    """Leave the burst unanswered on purpose, with the reason shown on each message; no operator
    is flagged unless `conversation` (fields for the conversation) says so."""
    batch = db.batch()
    batch.update(
        record.ref, {"state": ReplyState.WITHHELD.value, "withheld": reason, "settled_at": datetime.now(UTC)}
    )
    for message_id in record.message_ids:
        batch.update(
            message_ref(db, conversation_id, message_id),
            {"status": InboundStatus.IGNORED.value, "ai_response_id": record.id, "withheld": reason},
        )
    if conversation:
        batch.set(conversation_ref(db, conversation_id), conversation, merge=True)
    batch.commit(**CALL)
    record.state = ReplyState.WITHHELD


def begin_part(
    db: firestore.Client, record: ReplyRecord, conversation_id: str, holder: str, index: int
) -> bool:
    """Fence before sending part `index`: False when this instance no longer holds the lease."""
    conv = conversation_ref(db, conversation_id)

    @firestore.transactional
    def attempt(tx: firestore.Transaction) -> bool:
        conv_snap = conv.get(transaction=tx)
        reply_snap = record.ref.get(transaction=tx)
        lease = (conv_snap.to_dict() or {}).get("reply_lease") or {}
        if lease.get("holder") != holder or (reply_snap.to_dict() or {}).get("in_flight_part") is not None:
            return False
        tx.update(record.ref, {"in_flight_part": index})
        return True

    return attempt(db.transaction())


def add_part_sent(batch: firestore.WriteBatch, record: ReplyRecord, index: int, wamid: str) -> None:
    """Part `index` went out as `wamid`: written in the same batch as its outbound message."""
    batch.update(record.ref, {f"sent_wamids.p{index}": wamid, "in_flight_part": None})
    record.sent_wamids[f"p{index}"] = wamid


def part_not_sent(record: ReplyRecord) -> None:
    """WhatsApp refused the part outright, so it is known not to have gone out."""
    record.ref.update({"in_flight_part": None}, **CALL)


def settle(
    db: firestore.Client,
    conversation_id: str,
    record: ReplyRecord,
    state: ReplyState,
    *,
    error: dict[str, Any] | None = None,
    counted: dict[str, stats.Number] | None = None,
) -> None:
    """Close the reply and its inbound messages in one batch: answered, or failed with the reason."""
    batch = db.batch()
    add_settle(batch, db, conversation_id, record, state, error=error, counted=counted)
    batch.commit(**CALL)


def add_settle(
    batch: firestore.WriteBatch,
    db: firestore.Client,
    conversation_id: str,
    record: ReplyRecord,
    state: ReplyState,
    *,
    error: dict[str, Any] | None = None,
    counted: dict[str, stats.Number] | None = None,
) -> None:
    """`settle` as writes of the caller's batch (the last part of a reply closes it as it is recorded)."""
    conv = conversation_ref(db, conversation_id)
    now = datetime.now(UTC)
    update: dict[str, Any] = {"state": state.value, "settled_at": now}
    if error is not None:
        update["error"] = error
    batch.update(record.ref, update)
    message_status = InboundStatus.ANSWERED if state is ReplyState.SENT else InboundStatus.FAILED
    for message_id in record.message_ids:
        fields: dict[str, Any] = {"status": message_status.value, "ai_response_id": record.id}
        if state is not ReplyState.SENT:
            fields["error"] = error
        batch.update(message_ref(db, conversation_id, message_id), fields)
    if state is not ReplyState.SENT:
        batch.set(conv, {"has_failure": True, "needs_attention": True}, merge=True)
    if counted:
        stats.add_stat_increments(batch, db, now, counted, record.id)
    record.state = state


# -- a reply WhatsApp could not deliver after accepting it ---------------------------------------


def reply_of_callback(callback_data: str | None) -> str | None:
    """The reply id in the `biz_opaque_callback_data` a part was sent with (`"<reply_id>:<part>"`)."""
    if not callback_data:
        return None
    reply, sep, part = callback_data.rpartition(":")
    return reply if sep and reply and part.isdigit() else None


def add_delivery_failure(
    batch: firestore.WriteBatch,
    db: firestore.Client,
    conversation_id: str,
    reply: firestore.DocumentSnapshot,
    error: dict[str, Any],
) -> bool:
    """WhatsApp accepted a part of `reply` and then reported it failed (131047, 131026...): the
    reply and the messages it answered end failed with that error, as writes of `batch`.

    False (nothing added) when the reply is unknown or already failed, so a second failed part
    or a repeated webhook counts nothing twice. The reply's write is conditioned on the version
    read, so two failed parts racing each other fail one commit, which the caller retries.
    """
    data = reply.to_dict() if reply.exists else None
    if data is None or data.get("state") == ReplyState.FAILED.value:
        return False
    now = datetime.now(UTC)
    batch.update(
        reply.reference,
        {"state": ReplyState.FAILED.value, "error": error, "settled_at": now},
        option=db.write_option(last_update_time=reply.update_time),
    )
    message_ids = list(data.get("message_ids") or [])
    for message_id in message_ids:
        batch.update(
            message_ref(db, conversation_id, message_id),
            {"status": InboundStatus.FAILED.value, "ai_response_id": reply.id, "error": error},
        )
    if message_ids:
        stats.add_stat_increments(batch, db, now, stats.message_failed("inbound", len(message_ids)), reply.id)
    return True
