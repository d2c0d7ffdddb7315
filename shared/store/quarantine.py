"""Authenticated webhook bodies we could not understand, kept whole for an operator.

Answering 4xx/5xx would make Meta redeliver the same body for days, so the body is stored here
and the request is answered 200. Document ids are content hashes, so a redelivery of the same
body does not add a second entry.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.store import schema
from shared.store.schema import CALL
from shared.whatsapp.models import ReportedError

# A Firestore document holds at most 1 MiB (UTF-8 bytes of every string, field names and the
# document name included); Meta's bodies are up to 3 MB. The body and the bad part together
# get this many bytes, the part first (it is what the operator needs), the body the rest; a
# document over the limit would fail the whole delivery, valid messages included, for days.
MAX_STORED_BYTES = 900_000
MAX_STORED_PART_BYTES = 300_000
RETENTION = timedelta(days=30)


def _create_once(ref: firestore.DocumentReference, data: dict[str, Any]) -> bool:
    try:
        ref.create(data, **CALL)
    except gexc.AlreadyExists:
        return False
    return True


def quarantine(db: firestore.Client, body: bytes, *, reason: str, path: str = "", part: Any = None) -> str:
    """Keep `body` (or one `part` of it) with the reason it was refused; returns the entry id."""
    digest = hashlib.sha256(body).hexdigest()
    entry_id = digest[:40] if not path else f"{digest[:32]}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"
    part_text = json.dumps(part, ensure_ascii=False) if part is not None else None
    stored_part, part_bytes, part_size = _fit(part_text or "", MAX_STORED_PART_BYTES)
    stored_body, body_bytes, body_size = _fit(
        body.decode("utf-8", errors="replace"), MAX_STORED_BYTES - part_bytes
    )
    now = datetime.now(UTC)
    _create_once(
        schema.quarantine(db).document(entry_id),
        {
            "reason": reason[:1000],
            "path": path[:1000],
            "part": stored_part if part_text is not None else None,
            "part_size_bytes": part_size if part_text is not None else None,
            "part_truncated": part_bytes < part_size,
            "body": stored_body,
            "truncated": body_bytes < body_size,
            "size_bytes": len(body),
            "sha256": digest,  # of the whole body, however much of it is stored
            "received_at": now,
            "expire_at": now + RETENTION,
        },
    )
    return entry_id


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
