"""The operators' audit trail: who did what to which target, when; append-only by construction.

Each operator action is one object in the audit bucket (`AUDIT_BUCKET`), created with
`if_generation_match=0` (create, never replace). The dashboard's service account holds only
`roles/storage.objectCreator` and `roles/storage.objectViewer` on that bucket (terraform/audit.tf):
it can add records and read them, and has no permission that deletes or overwrites an object
(replacing one needs `storage.objects.delete`). No other function has any role on it, and the
bucket's retention policy keeps every record for `audit_retention_days` whoever asks.

Names sort newest first within a day (`audit/{day}/{inverted milliseconds}-{random}.json`) and
carry the record's fields as object metadata, so the Audit page lists and filters a day from
the listing alone and never downloads a record to show it. A record holds the operator, the
action, its target (a conversation id, a setting, a dead letter) and a short detail, never a
message's text.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud import storage

log = logging.getLogger(__name__)

PREFIX = "audit"
_MAX_MS = 10**15  # inverted timestamps: later records get smaller numbers and list first
DETAIL_CHARS = 500
PAGE_SIZE = 100


class Action(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    RESUME = "resume"
    MARK_HANDLED = "mark_handled"
    REPLY = "reply"
    TEMPLATE = "template"  # a template sent by hand (the templates page records it)
    RETRY = "retry"
    REPLAY = "replay"
    SETTINGS = "settings"
    ERASURE = "erasure"
    EXPORT = "export"


class AuditUnavailable(RuntimeError):
    """The record could not be written; the action it describes is not confirmed to the operator."""


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    operator: str
    action: str
    target: str
    outcome: str = ""  # how it went: "done", "refused", a notice code
    detail: str = ""
    via: str = ""  # how the operator signed in (iap, password) or "command" for a script
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, str]:
        return {
            "at": self.at.isoformat(),
            "operator": self.operator,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "detail": self.detail[:DETAIL_CHARS],
            "via": self.via,
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> AuditRecord:
        return cls(
            at=datetime.fromisoformat(meta.get("at") or "1970-01-01T00:00:00+00:00"),
            operator=meta.get("operator", ""),
            action=meta.get("action", ""),
            target=meta.get("target", ""),
            outcome=meta.get("outcome", ""),
            detail=meta.get("detail", ""),
            via=meta.get("via", ""),
        )


def object_name(record: AuditRecord) -> str:
    at = record.at.astimezone(UTC)
    inverted = _MAX_MS - int(at.timestamp() * 1000)
    return f"{PREFIX}/{at.date().isoformat()}/{inverted:015d}-{secrets.token_hex(6)}.json"


class AuditTrail:
    """Writes and lists audit records in one bucket. `bucket_name` empty: records go to the log
    only (a local dashboard without an audit bucket; the Audit page says so)."""

    def __init__(self, client_factory: Any, bucket_name: str) -> None:
        self._client_factory = client_factory  # storage.Client on first use: no cost at cold start
        self.bucket_name = bucket_name

    @property
    def enabled(self) -> bool:
        return bool(self.bucket_name)

    def _bucket(self) -> storage.Bucket:
        return self._client_factory().bucket(self.bucket_name)

    def record(self, record: AuditRecord) -> str | None:
        """Append `record`; its object name, or None without a bucket. Raises AuditUnavailable."""
        # The log line is a second copy, in Cloud Logging, of every record.
        log.info("operator action", extra={"audit": {**record.metadata(), **record.extra}})
        if not self.enabled:
            return None
        name = object_name(record)
        blob = self._bucket().blob(name)
        blob.metadata = record.metadata()
        body = json.dumps({**asdict(record), "at": record.at.isoformat()}, default=str, sort_keys=True)
        try:
            blob.upload_from_string(body, content_type="application/json", if_generation_match=0, timeout=10)
        except Exception as exc:
            log.error("the audit record could not be written", extra={"audit": record.metadata()})
            raise AuditUnavailable(str(exc)) from exc
        return name

    def day(
        self, day: date, *, action: str = "", operator: str = "", target: str = ""
    ) -> Iterator[AuditRecord]:
        """The records of one UTC day, newest first, that match every filter given."""
        if not self.enabled:
            return
        client = self._client_factory()
        for blob in client.list_blobs(self.bucket_name, prefix=f"{PREFIX}/{day.isoformat()}/", timeout=30):
            record = AuditRecord.from_metadata(dict(blob.metadata or {}))
            if action and record.action != action:
                continue
            if operator and operator.casefold() not in record.operator.casefold():
                continue
            if target and target not in record.target:
                continue
            yield record

    def recent(
        self,
        *,
        until: date,
        days: int = 7,
        action: str = "",
        operator: str = "",
        target: str = "",
        limit: int = PAGE_SIZE,
    ) -> list[AuditRecord]:
        """Up to `limit` matching records of the `days` UTC days up to `until`, newest first."""
        found: list[AuditRecord] = []
        for back in range(days):
            for record in self.day(
                until - timedelta(days=back), action=action, operator=operator, target=target
            ):
                found.append(record)
                if len(found) >= limit:
                    return found
        return found


DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
