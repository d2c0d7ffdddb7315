"""The audit trail: each operator action is recorded with who, when and the target, listed and
filtered on the Audit page, and never replaced once written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.dashboard.audit import AuditRecord, object_name
from tests.support.cloud import MEDIA_TOPIC, PROJECT, REPLY_TOPIC
from tests.support.dead_letters import DeadLetterBox
from tests.support.seed import record_refused, store_inbound

AUDIT_BUCKET = "test-audit"
WA_ID = "15550009999"


@pytest.fixture
def audit_bucket(storage_emulator, gcs_client, monkeypatch) -> str:
    from local.emulators import create_bucket

    create_bucket(storage_emulator.env["STORAGE_EMULATOR_HOST"], PROJECT, AUDIT_BUCKET)
    for blob in gcs_client.list_blobs(AUDIT_BUCKET):
        blob.delete()
    monkeypatch.setenv("AUDIT_BUCKET", AUDIT_BUCKET)
    return AUDIT_BUCKET


@pytest.fixture
def audited(audit_bucket, make_app):
    from tests.support.dashboard import Operator

    signed_in = Operator(make_app().test_client())
    assert signed_in.login().status_code == 302
    return signed_in


def rows(page: str) -> list[str]:
    return re.findall(r'<tr class="audit-record" data-action="([a-z_]+)"', page)


@pytest.fixture
def dead(emulators, topics) -> Iterator[DeadLetterBox]:
    box = DeadLetterBox(PROJECT, [MEDIA_TOPIC, REPLY_TOPIC])
    yield box
    box.delete()


def test_every_action_of_the_test_is_on_the_audit_page(audited, firestore_db, simulator, dead) -> None:
    conv, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Quinn", text="hi")
    audited.post(f"/conversations/{conv}/pause")
    audited.post(f"/conversations/{conv}/resume")
    audited.post(f"/conversations/{conv}/clear")
    page = audited.get(f"/conversations/{conv}").get_data(as_text=True)
    key = re.search(r'name="send_key" value="([0-9a-f]+)"', page).group(1)
    audited.post(f"/conversations/{conv}/reply", {"send_key": key, "text": "Hello Quinn"})
    record_refused(firestore_db, conv, WA_ID, "failed-1", "sorry", {"code": 131047, "title": "window"})
    audited.post(f"/conversations/{conv}/messages/failed-1/retry")
    audited.post("/dead-letters/replay", {"all": "1"})
    audited.post(
        "/settings/100000000000001/limits",
        {
            "messages_per_minute": "5",
            "messages_per_hour": "50",
            "tokens_per_day": "1000",
            "spend_cap_usd_per_day": "3.5",
            "notice": "",
        },
    )

    assert audited.get(f"/conversations/{conv}/export").status_code == 200
    audited.post(f"/conversations/{conv}/erase", {"confirm": WA_ID, "scope": "this"})
    audited.post("/logout")
    audited.login()

    page = audited.get("/audit").get_data(as_text=True)
    assert rows(page) == [
        *("login", "logout", "erasure", "export", "settings", "replay", "retry"),
        *("reply", "mark_handled", "resume", "pause", "login"),
    ]
    assert WA_ID not in page.split('data-action="erasure"')[1].split("</tr>")[0]  # names the erasure only
    assert conv in page and "operator" in page and "(password)" in page
    assert "cap 3.50 USD/day" in page


def test_the_audit_page_filters_by_action_operator_and_target(audited, firestore_db) -> None:
    conv, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Quinn", text="hi")
    other, _ = store_inbound(firestore_db, wa_id="15550001234", name="Rita", text="hi")
    audited.post(f"/conversations/{conv}/pause")
    audited.post(f"/conversations/{other}/pause")
    audited.post(f"/conversations/{other}/resume")

    assert rows(audited.get("/audit?action=pause").get_data(as_text=True)) == ["pause", "pause"]
    by_target = audited.get(f"/audit?target={other}").get_data(as_text=True)
    assert rows(by_target) == ["resume", "pause"]
    assert rows(audited.get("/audit?operator=nobody").get_data(as_text=True)) == []
    assert rows(audited.get("/audit?day=2020-01-01").get_data(as_text=True)) == []


def test_records_of_the_same_instant_never_share_a_name_and_newer_ones_list_first() -> None:
    # Each record is its own object, created only (never replaced: terraform/audit.tf grants the
    # dashboard no permission that deletes or overwrites, tests/infra holds it to that).
    now = datetime.now(UTC)
    first = AuditRecord(now, "ops@example.com", "pause", "conv", "done")
    assert object_name(first) != object_name(first)
    later = AuditRecord(
        now.replace(microsecond=0) + timedelta(seconds=1), "ops@example.com", "resume", "conv"
    )
    assert object_name(later) < object_name(first)


def test_without_an_audit_bucket_the_page_says_actions_go_to_the_log_only(operator) -> None:
    page = operator.get("/audit").get_data(as_text=True)
    assert 'id="audit-disabled"' in page
