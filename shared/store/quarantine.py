"""Authenticated webhook bodies we could not understand, kept whole for an operator.

Answering 4xx/5xx would make Meta redeliver the same body for days, so the body is stored here
and the request is answered 200. Document ids are content hashes, so a redelivery of the same
body does not add a second entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.store import schema
from shared.store.schema import CALL
from shared.whatsapp.models import ReportedError

# A Firestore document holds at most 1 MiB (UTF-8 bytes of every string, field names and the
# document name included); Meta's bodies are up to 3 MB. The entry shows the bad part and the
# body within this many bytes, the part first (it is what the operator needs), the body the
# rest; a document over the limit would fail the whole delivery, valid messages included, for
# days. A body that does not fit (or is not UTF-8) is also kept whole, as raw bytes in chunk
# documents under the entry, written in the entry's batch: nothing an operator may need is lost.
MAX_STORED_BYTES = 900_000
MAX_STORED_PART_BYTES = 300_000
BODY_CHUNK_BYTES = 900_000
RETENTION = timedelta(days=30)


def _create_once(ref: firestore.DocumentReference, data: dict[str, Any]) -> bool:
    try:
        ref.create(data, **CALL)
    except gexc.AlreadyExists:
        return False
    return True


def _body_chunks(body: bytes) -> list[bytes]:
    return [body[start : start + BODY_CHUNK_BYTES] for start in range(0, len(body), BODY_CHUNK_BYTES)]


def quarantine(db: firestore.Client, body: bytes, *, reason: str, path: str = "", part: Any = None) -> str:
    """Keep `body` (or one `part` of it) with the reason it was refused; returns the entry id."""
    digest = hashlib.sha256(body).hexdigest()
    entry_id = digest[:40] if not path else f"{digest[:32]}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"
    part_text = json.dumps(part, ensure_ascii=False) if part is not None else None
    stored_part, part_bytes, part_size = _fit(part_text or "", MAX_STORED_PART_BYTES)
    stored_body, body_bytes, body_size = _fit(
        body.decode("utf-8", errors="replace"), MAX_STORED_BYTES - part_bytes
    )
    shown_whole = body_bytes == len(body) and stored_body.encode("utf-8") == body
    chunks = [] if shown_whole else _body_chunks(body)
    now = datetime.now(UTC)
    entry_ref = schema.quarantine(db).document(entry_id)
    batch = db.batch()
    batch.create(
        entry_ref,
        {
            "reason": reason[:1000],
            "path": path[:1000],
            "part": stored_part if part_text is not None else None,
            "part_size_bytes": part_size if part_text is not None else None,
            "part_truncated": part_bytes < part_size,
            "body": stored_body,
            "truncated": body_bytes < body_size,
            "size_bytes": len(body),
            "sha256": digest,  # of the whole body, however much of it is shown
            # The customers the body names, so erasing a customer finds their entries too.
            "wa_ids": customers_in(body),
            "body_chunks": len(chunks),
            "received_at": now,
            "expire_at": now + RETENTION,
        },
    )
    for index, chunk in enumerate(chunks):
        batch.create(
            schema.quarantine_body_chunks(db, entry_id).document(f"{index:04d}"),
            {"data": chunk, "expire_at": now + RETENTION},
        )
    with contextlib.suppress(gexc.AlreadyExists):  # a redelivery of a body already kept
        batch.commit(**CALL)
    return entry_id


# Meta names a customer as a message's `from`, a contact's `wa_id` or a status's `recipient_id`,
# and by their BSUID as `user_id`, `from_user_id`, `recipient_user_id` or `parent_user_id`.
_CUSTOMER_FIELD = re.compile(
    rb'"(?:from|wa_id|recipient_id|user_id|from_user_id|recipient_user_id|parent_user_id)"'
    rb'\s*:\s*"(\+?[0-9]{5,20}|[A-Z]{2}\.[A-Za-z0-9]{1,64})"'
)
MAX_CUSTOMERS = 100


def customers_in(body: bytes) -> list[str]:
    """The WhatsApp phone numbers and user ids a body names, found in its bytes (it may not even
    be JSON)."""
    found = dict.fromkeys(m.group(1).decode().lstrip("+") for m in _CUSTOMER_FIELD.finditer(body))
    return list(found)[:MAX_CUSTOMERS]


def whole_body(db: firestore.Client, entry_id: str, shown_body: str, chunk_count: int) -> Iterator[bytes]:
    """The body exactly as it was received: the shown text when it was whole, else its chunks in
    order, one document at a time so a 3 MB body is never held twice."""
    if chunk_count == 0:
        yield shown_body.encode("utf-8")
        return
    for index in range(chunk_count):
        snap = schema.quarantine_body_chunks(db, entry_id).document(f"{index:04d}").get(**CALL)
        if not snap.exists:
            raise LookupError(f"quarantine entry {entry_id} lost chunk {index} of {chunk_count}")
        yield bytes(snap.get("data"))


def _fit(text: str, max_bytes: int) -> tuple[str, int, int]:
    """The longest start of ``text`` within ``max_bytes`` of UTF-8 (no character cut in two),
    with its size and the size of the whole, in UTF-8 bytes."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text, len(encoded), len(encoded)
    kept = encoded[: max(0, max_bytes)].decode("utf-8", errors="ignore")
    return kept, len(kept.encode("utf-8")), len(encoded)


def record_webhook_errors(
    db: firestore.Client, body: bytes, *, path: str, phone_number_id: str, errors: tuple[ReportedError, ...]
) -> None:
    """`value.errors`: account- or app-level problems Meta reports (rate limits, policy, ...)."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    now = datetime.now(UTC)
    for i, error in enumerate(errors):
        _create_once(
            schema.webhook_errors(db).document(
                f"{digest}-{hashlib.sha256(path.encode()).hexdigest()[:8]}-{i}"
            ),
            {
                **error.as_dict(),
                "message": error.message,
                "href": error.href,
                "phone_number_id": phone_number_id,
                "path": f"{path}[{i}]",
                "received_at": now,
                "expire_at": now + RETENTION,
            },
        )
