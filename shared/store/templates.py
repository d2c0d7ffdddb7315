"""The business account's message templates in Firestore (`templates/{template_id}`).

Two writers keep them current: a sync from the Graph API (`sync_templates`, on an operator's
request) replaces the account's list with Meta's, and the template webhooks
(`apply_template_event`) move one template's status or quality as Meta reviews and rates it.
An event may name a template not synced yet (created in WhatsApp Manager a moment ago): it is
recorded with what the event says, and the next sync completes it. An event older than the
document's last change is ignored, so a late review never undoes a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.store.schema import CALL, template_ref, templates
from shared.whatsapp.models import TemplateEvent
from shared.whatsapp.templates import Template

LIST_LIMIT = 500  # a WhatsApp Business Account holds at most a few hundred templates
APPROVED = "APPROVED"


def _document(template: Template, waba_id: str, now: datetime) -> dict[str, Any]:
    return {
        "waba_id": waba_id,
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "status": template.status,
        "quality": template.quality,
        "components": [dict(c) for c in template.components],
        "rejected_reason": template.rejected_reason,
        "synced_at": now,
        "updated_at": now,
    }


def sync_templates(db: firestore.Client, waba_id: str, listed: Iterable[Template]) -> tuple[int, int]:
    """Replace the account's stored templates with Meta's list; returns (kept, removed)."""
    now = datetime.now(UTC)
    fresh = {t.id: t for t in listed if t.id}
    stored = templates(db).where(filter=FieldFilter("waba_id", "==", waba_id)).limit(LIST_LIMIT)
    gone = [snap.reference for snap in stored.stream(**CALL) if snap.id not in fresh]
    writes: list[tuple[str, Any]] = [
        ("set", (template_ref(db, i), _document(t, waba_id, now))) for i, t in fresh.items()
    ]
    writes += [("delete", ref) for ref in gone]
    for start in range(0, len(writes), 400):
        batch = db.batch()
        for kind, args in writes[start : start + 400]:
            if kind == "set":
                batch.set(*args)
            else:
                batch.delete(args)
        batch.commit(**CALL)
    return len(fresh), len(gone)


def apply_template_event(db: firestore.Client, event: TemplateEvent, when: datetime | None = None) -> None:
    """A review or a quality score from the template webhooks, applied to the stored template."""
    when = when or datetime.now(UTC)
    ref = template_ref(db, event.template_id)
    fields: dict[str, Any] = {
        "waba_id": event.waba_id,
        "name": event.name,
        "language": event.language,
        "updated_at": when,
    }
    if event.status:
        fields["status"] = event.status.upper()
        fields["rejected_reason"] = event.reason if event.reason not in (None, "NONE") else None
    if event.quality:
        fields["quality"] = event.quality.upper()

    @firestore.transactional
    def attempt(tx: firestore.Transaction) -> None:
        snap = ref.get(transaction=tx)
        updated = (snap.to_dict() or {}).get("updated_at") if snap.exists else None
        if isinstance(updated, datetime) and updated > when:
            return  # a newer change is stored already
        tx.set(ref, fields, merge=True)

    attempt(db.transaction())


def template_from(snap: firestore.DocumentSnapshot) -> Template:
    data = snap.to_dict() or {}
    return Template(
        id=snap.id,
        name=str(data.get("name") or ""),
        language=str(data.get("language") or ""),
        category=str(data.get("category") or ""),
        status=str(data.get("status") or ""),
        quality=str(data.get("quality") or "UNKNOWN"),
        components=tuple(data.get("components") or ()),
        rejected_reason=data.get("rejected_reason"),
    )


def list_templates(db: firestore.Client) -> list[Template]:
    """Every stored template, by name then language."""
    snaps = templates(db).order_by("name").limit(LIST_LIMIT).stream(**CALL)
    return sorted((template_from(s) for s in snaps), key=lambda t: (t.name, t.language))


def approved_templates(db: firestore.Client) -> list[Template]:
    """The templates a send may use, by name then language."""
    query = templates(db).where(filter=FieldFilter("status", "==", APPROVED)).limit(LIST_LIMIT)
    return sorted((template_from(s) for s in query.stream(**CALL)), key=lambda t: (t.name, t.language))


def find_template(db: firestore.Client, name: str, language: str) -> Template | None:
    """The approved template of that name and language, if there is one."""
    return next((t for t in approved_templates(db) if t.name == name and t.language == language), None)
