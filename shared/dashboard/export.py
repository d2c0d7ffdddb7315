"""A customer's data as a ZIP, streamed as it is built ("Download this customer's data").

The archive holds `conversation.json` (the conversation, then every message oldest first, each
outbound one the assistant wrote with its AI response: model, tokens, finish reason, the
knowledge passages it was given and the ones it cited as its `sources`) and `media/{message id}/{file}` for every stored file the messages
reference (originals and derived files: transcodes, poster frames, extracted text). Messages
are read a page at a time and each file is copied from the bucket a chunk at a time, and the
ZIP is written to a pipe the response drains as it goes (zipfile writes a non-seekable stream
with data descriptors), so a conversation of any size costs one page and one chunk of memory.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from shared.bucket import MediaBucket
from shared.store.schema import CALL, ai_responses, conversation_ref, messages

PAGE_SIZE = 200
COPY_CHUNK_BYTES = 1024 * 1024
FORMAT_VERSION = 1


class _Pipe(io.RawIOBase):
    """What zipfile writes, kept until the response takes it; never seekable."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json, ensure_ascii=False, sort_keys=True)


# What the customer's copy leaves out: the system's own bookkeeping, not their data.
INTERNAL_FIELDS = frozenset({"job", "reply_lease", "reply_wanted", "reply_waiter", "expire_at", "erasure_id"})
AI_RESPONSE_FIELDS = (
    "model",
    "text",
    "fallback",
    "canned",
    "finish_reason",
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "latency_ms",
    "knowledge",  # every passage the answer was given, each marked whether it cited it
    "choices",
    "handoff",
    "created_at",
    "state",
)


def _public(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in INTERNAL_FIELDS}


def media_uris(media: Any) -> list[tuple[str, str]]:
    """(field, gs:// URI) of every stored file a message's `media` map references."""
    if not isinstance(media, Mapping):
        return []
    return sorted(
        (key, value)
        for key, value in media.items()
        if key.endswith("_uri") and isinstance(value, str) and value
    )


def _pages(db: firestore.Client, conversation_id: str) -> Iterator[list[firestore.DocumentSnapshot]]:
    query = messages(db, conversation_id).order_by("created_at").order_by("__name__")
    last: firestore.DocumentSnapshot | None = None
    while True:
        page = (query.start_after(last) if last is not None else query).limit(PAGE_SIZE)
        snaps = list(page.stream(**CALL))
        if not snaps:
            return
        yield snaps
        last = snaps[-1]


def export_zip(db: firestore.Client, bucket: MediaBucket, conversation_id: str) -> Iterator[bytes]:
    """The ZIP of one conversation, chunk by chunk. LookupError when there is no such conversation
    (raised before the first chunk, so the caller can still answer 404)."""
    conversation = conversation_ref(db, conversation_id).get(**CALL)
    if not conversation.exists:
        raise LookupError(conversation_id)
    return _build(db, bucket, conversation_id, conversation.to_dict() or {})


def _build(
    db: firestore.Client, bucket: MediaBucket, conversation_id: str, conversation: dict[str, Any]
) -> Iterator[bytes]:
    pipe = _Pipe()
    media: list[tuple[str, str, str]] = []  # (message id, field, uri): small, one per file
    answers: dict[str, dict[str, Any] | None] = {}  # the last reply's: its parts are neighbours
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("conversation.json", "w", force_zip64=True) as out:
            head = {
                "format": FORMAT_VERSION,
                "exported_at": datetime.now(UTC),
                "conversation": {"id": conversation_id, **_public(conversation)},
            }
            out.write((_dumps(head)[:-1] + ', "messages": [').encode())
            first = True
            for page in _pages(db, conversation_id):
                for snap in page:
                    data = _public(snap.to_dict() or {})
                    response_id = data.get("ai_response_id")
                    if response_id and data.get("direction") == "outbound":
                        data["ai_response"] = _answer(db, conversation_id, str(response_id), answers)
                    for field, uri in media_uris(data.get("media")):
                        media.append((snap.id, field, uri))
                    out.write((("" if first else ",") + _dumps({"id": snap.id, **data})).encode())
                    first = False
                yield pipe.take()
            out.write(b"]}")
        yield pipe.take()
        for message_id, field, uri in media:
            name = f"media/{message_id}/{field.removesuffix('_uri')}-{uri.rsplit('/', 1)[-1]}"
            with archive.open(name, "w", force_zip64=True) as out, bucket.open_read(uri) as source:
                while chunk := source.read(COPY_CHUNK_BYTES):
                    out.write(chunk)
                    yield pipe.take()
    yield pipe.take()


def _answer(
    db: firestore.Client, conversation_id: str, response_id: str, seen: dict[str, dict[str, Any] | None]
) -> dict[str, Any] | None:
    """The AI response behind an outbound message (read once per reply, however many parts)."""
    if response_id not in seen:
        seen.clear()
        snap = ai_responses(db, conversation_id).document(response_id).get(**CALL)
        data = snap.to_dict() or {} if snap.exists else None
        if data is None:
            seen[response_id] = None
        else:
            kept = {k: data[k] for k in AI_RESPONSE_FIELDS if k in data}
            passages = data.get("knowledge") if isinstance(data.get("knowledge"), list) else []
            # The sources of the answer: the passages it cited.
            kept["sources"] = [p for p in passages if isinstance(p, dict) and p.get("cited")]
            seen[response_id] = {"id": response_id, **kept}
    return seen[response_id]
