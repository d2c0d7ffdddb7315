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

# A Firestore document holds at most 1 MiB; Meta's bodies are at most 3 MB.
MAX_STORED_BODY_CHARS = 900_000
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
    text = body.decode("utf-8", errors="replace")
    now = datetime.now(UTC)
    _create_once(
        schema.quarantine(db).document(entry_id),
        {
            "reason": reason,
            "path": path,
            "part": json.dumps(part, ensure_ascii=False)[:MAX_STORED_BODY_CHARS]
            if part is not None
            else None,
            "body": text[:MAX_STORED_BODY_CHARS],
            "truncated": len(text) > MAX_STORED_BODY_CHARS,
            "size_bytes": len(body),
            "sha256": digest,
            "received_at": now,
            "expire_at": now + RETENTION,
        },
    )
    return entry_id


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
