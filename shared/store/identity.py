"""Who a conversation is with: one conversation per business number and WhatsApp user, whichever
of their identifiers a message comes with, kept current and followed through their changes.

A user has a phone number (`wa_id`, when they share it), a business-scoped user id (`user_id`,
the BSUID every delivery has carried since April 2026, which changes with their number) and maybe
a username. The webhook files a message under the conversation id its own identifiers give,
`{phone_number_id}_{phone, else BSUID}` (`UserIdentity.key`), without reading anything: that is
the user's conversation whenever they write as they did before, and every conversation stored
before BSUIDs existed is keyed by its phone already.

Every other identifier a conversation learns gets a *link*: a document at the id that
identifier gives, holding only `moved_to` (the conversation's id). So the user known by phone
who writes without it, or from a new number, is found with the one read the consumer of the
message's job makes anyway: it finds a link where it looked for the conversation and moves the
message to the conversation linked (`relocate`), leaving a stub behind so a repeat delivery of
the webhook stores nothing twice. Links hold no summary fields, so no list or search of
conversations ever shows one.

The consumer's arrival (`inbound.plan_arrival`, within `record_job_arrival` or the reply
lease's transaction) applies `resolve`: the conversation as read either is the message's (its
identity fields are kept current, and links are planned for identifiers it did not know, after
one read of their ids, only then) or the message belongs elsewhere (`Elsewhere`). A returning
user written to by the same identifiers costs no read beyond the arrival's own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.store.schema import CALL, JobState, conversation_id, conversation_ref, conversations, message_ref

log = logging.getLogger(__name__)

LINK = "moved_to"  # a link document's one meaningful field; a moved message's stub has it too
IDENTITY_FIELDS = ("wa_id", "user_id", "parent_user_id", "username")
RELOCATE_ATTEMPTS = 5

Doc = Mapping[str, Any]
GetAll = Callable[[list[firestore.DocumentReference]], Iterable[Any]]


def linked_to(document: Doc | None) -> str | None:
    """The conversation a link (or a moved message's stub) points at; None for the real thing."""
    target = (document or {}).get(LINK)
    return str(target) if target else None


def message_identity(message: Doc) -> dict[str, str]:
    """The user's identifiers as a stored message has them; an identity change names the new ones."""
    found = {name: str(message[name]) for name in IDENTITY_FIELDS if message.get(name)}
    system = message.get("system") or {}
    if system.get("type") in ("user_changed_number", "user_changed_user_id"):
        if system.get("wa_id"):
            found["wa_id"] = str(system["wa_id"])
        if system.get("user_id"):
            found["user_id"] = str(system["user_id"])
            found.pop("parent_user_id", None)
        if system.get("parent_user_id"):
            found["parent_user_id"] = str(system["parent_user_id"])
    if not found and message.get("sender") and str(message["sender"]).isdigit():
        found["wa_id"] = str(message["sender"])  # stored before messages kept their ids apart
    return found


def _known_ids(message: Doc) -> list[str]:
    """Every identifier that may name this user: the current ones, and those an identity change
    says they had before (`from`, `previous_user_id`)."""
    ids = [v for k, v in message_identity(message).items() if k in ("wa_id", "user_id")]
    ids += [str(message[k]) for k in ("wa_id", "user_id") if message.get(k)]
    previous = (message.get("system") or {}).get("previous_user_id")
    if previous:
        ids.append(str(previous))
    return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class Here:
    """The message belongs to the conversation it was filed under."""

    identity: dict[str, str]  # fields the conversation's summary takes from the message
    links: tuple[str, ...] = ()  # link documents to create (their ids were read: nothing there)
    conflicts: tuple[str, ...] = ()  # other conversations of the same user, to merge


@dataclass(frozen=True)
class Elsewhere:
    """The message belongs to `target`: move it there (with a link at its own id when `link`)."""

    target: str
    link: bool = False


@dataclass
class _Reads:
    get_all: GetAll
    db: firestore.Client
    docs: dict[str, Doc | None] = field(default_factory=dict)

    def fetch(self, conv_ids: Sequence[str]) -> dict[str, Doc | None]:
        wanted = [c for c in conv_ids if c not in self.docs]
        if wanted:
            for snap in self.get_all([conversation_ref(self.db, c) for c in wanted]):
                self.docs[snap.reference.id] = snap.to_dict() if snap.exists else None
        return {c: self.docs.get(c) for c in conv_ids}


def resolve(
    db: firestore.Client,
    conv_id: str,
    message: Doc,
    conversation: Doc | None,
    get_all: GetAll,
) -> Here | Elsewhere:
    """Where `message`, filed under `conv_id`, belongs, given its conversation as read.

    Reads more (with `get_all`, the caller's transaction or client) only when the message names
    an identifier the conversation has not got yet, or the conversation does not exist.
    """
    if (target := linked_to(message)) is not None:
        return Elsewhere(target)  # moved by an earlier delivery of this job
    if (target := linked_to(conversation)) is not None:
        return Elsewhere(target)
    phone_number_id = conv_id.split("_", 1)[0]
    identity = message_identity(message)
    own = conv_id.split("_", 1)[1]
    known = {str((conversation or {}).get(k)) for k in ("wa_id", "user_id") if (conversation or {}).get(k)}
    known.add(own)
    if conversation is None:
        known.clear()
        known.add(own)
    others = [i for i in _known_ids(message) if i not in known]
    if not others:
        return Here(identity)
    reads = _Reads(get_all, db)
    found = reads.fetch([conversation_id(phone_number_id, i) for i in others])
    links: list[str] = []
    conflicts: list[str] = []
    for other_id, doc in found.items():
        if doc is None:
            links.append(other_id)
            continue
        target = linked_to(doc) or other_id
        if target == conv_id:
            continue
        if conversation is None:
            # The user's conversation is there already: this message joins it.
            return Elsewhere(target, link=True)
        conflicts.append(target)
    return Here(identity, tuple(links), tuple(dict.fromkeys(conflicts)))


def link_document(target: str, now: datetime) -> dict[str, Any]:
    return {LINK: target, "linked_at": now}


def summary_identity(identity: Mapping[str, str], conversation: Doc | None) -> dict[str, Any]:
    """The conversation's identity fields after this message: the message's where it has them.
    A new BSUID without a parent id drops the old parent id, which belonged to the old BSUID."""
    fields: dict[str, Any] = dict(identity)
    known = conversation or {}
    new_user_id = "user_id" in identity and known.get("user_id") != identity["user_id"]
    if new_user_id and "parent_user_id" not in identity and known.get("parent_user_id"):
        fields["parent_user_id"] = firestore.DELETE_FIELD
    return fields


def relocate(db: firestore.Client, source: str, target: str, message_id: str, *, link: bool = False) -> str:
    """Move message `message_id` from conversation `source` to `target`; returns where it is now.

    The copy at `target` is the message as it was (its job still to arrive there); `source` keeps
    a stub naming `target`, with its job marked received so a repeat delivery of the webhook
    writes and publishes nothing. With `link`, `source` (which does not exist as a conversation)
    becomes a link to `target`. Conditional on the message being unchanged since it was read.
    """
    src_ref = message_ref(db, source, message_id)
    dst_ref = message_ref(db, target, message_id)
    for _ in range(RELOCATE_ATTEMPTS):
        snap = src_ref.get(**CALL)
        if not snap.exists:
            return source
        data = snap.to_dict() or {}
        if (moved := linked_to(data)) is not None:
            return moved
        now = datetime.now(UTC)
        # The stub keeps its copy until its `expire_at`; nothing lists a link's messages.
        stub: dict[str, Any] = {LINK: target, "job.state": JobState.PUBLISHED.value, "job.received_at": now}
        batch = db.batch()
        batch.set(dst_ref, data)  # the same content whichever delivery writes it
        batch.update(src_ref, stub, option=db.write_option(last_update_time=snap.update_time))
        if link:
            batch.set(conversation_ref(db, source), link_document(target, now), merge=True)
        try:
            batch.commit(**CALL)
        except gexc.FailedPrecondition:
            continue  # the message changed under us (its arrival, another relocation): look again
        log.info(
            "message moved to its user's conversation",
            extra={"from": source, "conversation_id": target, "message_id": message_id},
        )
        return target
    raise gexc.Aborted(f"moving {message_id} kept racing other writes")


def add_links(writes: Any, db: firestore.Client, links: Sequence[str], target: str, now: datetime) -> None:
    """Create a link at each of `links` (read just before: nothing there) pointing at `target`."""
    for link in links:
        writes.create(conversation_ref(db, link), link_document(target, now))


# -- two conversations of one user -----------------------------------------------------------------

MERGE_PAGE = 200  # messages moved per batch (two writes each, under Firestore's 500)
_LATEST = ("last_message_at", "last_inbound_at", "created_at")
_FLAGS = ("needs_attention", "has_failure")


def merge_into(db: firestore.Client, target: str, source: str) -> bool:
    """Move every message (and reply record) of conversation `source` into `target`, both the same
    user's, and leave `source` a link to `target`; False when `source` is replying right now (its
    holder would write into it) and is left for an operator, flagged.

    It happens when a user had two conversations before anything could tell they were one: a
    phone-less conversation and one from before BSUIDs, or a new number that wrote before its
    change was reported. Idempotent: a message moved before is a stub and is skipped.
    """
    now = datetime.now(UTC)
    src_ref, dst_ref = conversation_ref(db, source), conversation_ref(db, target)
    snap = src_ref.get(**CALL)
    data = snap.to_dict() if snap.exists else None
    if data is None or linked_to(data):
        return True
    lease = data.get("reply_lease") or {}
    if lease.get("until") and lease["until"] > now:
        dst_ref.set({"needs_attention": True, "other_conversations": [source]}, merge=True, **CALL)
        return False
    moved = 0
    for collection in ("messages", "ai_responses"):
        last = None
        while True:
            query = src_ref.collection(collection).order_by("__name__").limit(MERGE_PAGE)
            page = list((query.start_after(last) if last is not None else query).stream(**CALL))
            if not page:
                break
            last = page[-1]
            # Moved before (a relocated message, an earlier merge): skipped.
            waiting = [item for item in page if not linked_to(item.to_dict())]
            if not waiting:
                continue
            batch = db.batch()
            for item in waiting:
                batch.set(dst_ref.collection(collection).document(item.id), item.to_dict() or {})
                batch.set(item.reference, {LINK: target}, merge=True)
            batch.commit(**CALL)
            moved += len(waiting) if collection == "messages" else 0
    target_data = dst_ref.get(**CALL).to_dict() or {}
    summary: dict[str, Any] = {"message_count": int(target_data.get("message_count") or 0) + moved}
    for name in _LATEST:
        values = [v for v in (target_data.get(name), data.get(name)) if isinstance(v, datetime)]
        if values:
            summary[name] = min(values) if name == "created_at" else max(values)
    if (data.get("last_message_at") or now) > (target_data.get("last_message_at") or now):
        summary["last_message_preview"] = data.get("last_message_preview", "")
    for name in _FLAGS:
        summary[name] = bool(target_data.get(name) or data.get(name))
    for name in (*IDENTITY_FIELDS, "display_name", "display_name_lower"):
        if not target_data.get(name) and data.get(name):
            summary[name] = data[name]
    summary["other_conversations"] = firestore.DELETE_FIELD
    summary["merged_from"] = firestore.ArrayUnion([source])
    batch = db.batch()
    batch.set(dst_ref, summary, merge=True)
    batch.set(src_ref, link_document(target, now))  # replaces the summary: never listed again
    # Links to `source` (its other identifiers) lead straight to `target` from now on.
    pointing = conversations(db).where(filter=FieldFilter(LINK, "==", source)).limit(MERGE_PAGE)
    for link in pointing.stream(**CALL):
        batch.update(link.reference, {LINK: target})
    batch.commit(**CALL)
    log.info(
        "two conversations of one user merged",
        extra={"conversation_id": target, "from": source, "messages": moved},
    )
    return True


def merge_others(db: firestore.Client, conversation_id: str, conversation: Doc | None) -> None:
    """Merge into this conversation the user's others its last arrival found."""
    for other in (conversation or {}).get("other_conversations") or []:
        if other != conversation_id:
            merge_into(db, conversation_id, str(other))
