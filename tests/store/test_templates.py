"""Templates in Firestore: a sync replaces the account's list, webhooks move one template, and a
late event never undoes a newer one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.store.templates import apply_template_event, approved_templates, list_templates, sync_templates
from shared.whatsapp.models import TemplateEvent
from shared.whatsapp.templates import Template

WABA = "200000000000001"


def template(template_id: str, name: str, status: str = "APPROVED", language: str = "en_US") -> Template:
    return Template(
        id=template_id,
        name=name,
        language=language,
        category="UTILITY",
        status=status,
        components=({"type": "BODY", "text": "Hello {{1}}"},),
    )


def test_a_sync_stores_every_template_and_drops_the_ones_meta_no_longer_lists(firestore_db) -> None:
    sync_templates(firestore_db, WABA, [template("1", "welcome"), template("2", "old_offer", "PAUSED")])

    kept, removed = sync_templates(
        firestore_db, WABA, [template("1", "welcome"), template("3", "welcome", language="pt_BR")]
    )

    assert (kept, removed) == (2, 1)
    assert [(t.name, t.language) for t in list_templates(firestore_db)] == [
        ("welcome", "en_US"),
        ("welcome", "pt_BR"),
    ]
    stored = list_templates(firestore_db)[0]
    assert stored.components[0]["text"] == "Hello {{1}}" and stored.category == "UTILITY"


def test_status_and_quality_events_move_the_template_and_a_late_event_changes_nothing(firestore_db) -> None:
    sync_templates(firestore_db, WABA, [template("7", "follow_up", "PENDING")])
    now = datetime.now(UTC)

    apply_template_event(
        firestore_db,
        TemplateEvent(WABA, "7", "follow_up", "en_US", status="APPROVED"),
        now + timedelta(seconds=1),
    )
    apply_template_event(
        firestore_db,
        TemplateEvent(WABA, "7", "follow_up", "en_US", quality="YELLOW"),
        now + timedelta(seconds=2),
    )
    apply_template_event(
        firestore_db,
        TemplateEvent(WABA, "7", "follow_up", "en_US", status="REJECTED"),
        now - timedelta(minutes=5),
    )

    (stored,) = list_templates(firestore_db)
    assert (stored.status, stored.quality) == ("APPROVED", "YELLOW")
    assert [t.name for t in approved_templates(firestore_db)] == ["follow_up"]


def test_an_event_for_a_template_never_synced_records_what_it_says(firestore_db) -> None:
    apply_template_event(
        firestore_db, TemplateEvent(WABA, "99", "fresh", "de", status="REJECTED", reason="INVALID_FORMAT")
    )

    (stored,) = list_templates(firestore_db)
    assert (stored.name, stored.language, stored.status, stored.rejected_reason) == (
        "fresh",
        "de",
        "REJECTED",
        "INVALID_FORMAT",
    )
