"""The guardrails in a real headless Chromium: an opted-out customer cannot be written to, a
number's limits are set on the Settings page, a customer's data is downloaded and deleted, and
the Audit page shows each action the test took."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.emulators import ManagedProcess, create_bucket, free_port, start_function
from local.simulator import DEFAULT_ACCESS_TOKEN, graph_api_url
from shared.config import Settings
from shared.store import business_numbers
from shared.store.consent import record_consent
from shared.store.limits import limits_for
from tests.support.browser import BrowserPage
from tests.support.cloud import ARTIFACTS, PROJECT, base_env
from tests.support.cloud import MEDIA_BUCKET as BUCKET
from tests.support.dashboard import PASSWORD, SESSION_SECRET
from tests.support.seed import PHONE_NUMBER_ID, store_ai_reply, store_inbound

pytestmark = pytest.mark.browser

AUDIT_BUCKET = "browser-audit"
CUSTOMER = "15550002323"
OPTED_OUT = "15550003434"


@pytest.fixture(scope="module")
def dashboard(emulators, storage_emulator, simulator_server) -> Iterator[ManagedProcess]:
    create_bucket(storage_emulator.env["STORAGE_EMULATOR_HOST"], PROJECT, AUDIT_BUCKET)
    env = base_env(
        emulators,
        DASHBOARD_PASSWORD=PASSWORD,
        DASHBOARD_SESSION_SECRET=SESSION_SECRET,
        MEDIA_BUCKET=BUCKET,
        AUDIT_BUCKET=AUDIT_BUCKET,
        WHATSAPP_API_URL=graph_api_url(simulator_server),
        WHATSAPP_API_TOKEN=DEFAULT_ACCESS_TOKEN,
        **storage_emulator.env,
    )
    for name in ("IAP_AUDIENCE", "OPERATOR_EMAILS", "IAP_JWKS_URL"):
        env.pop(name, None)
    proc = start_function("dashboard", free_port(), env, ARTIFACTS / "logs")
    yield proc
    proc.stop()


@pytest.fixture
def browser_page(
    chromium, dashboard, firestore_db, simulator, storage_emulator, monkeypatch
) -> Iterator[BrowserPage]:
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator.env["STORAGE_EMULATOR_HOST"])
    for blob in storage.Client(project=PROJECT).list_blobs(AUDIT_BUCKET):
        blob.delete()
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC", accept_downloads=True
    )
    page = BrowserPage(context.new_page(), dashboard.url)
    yield page
    context.close()
    assert page.foreign_requests == [], "the dashboard reached beyond localhost"
    assert page.console_errors == [], f"console errors (CSP violations?): {page.console_errors}"


def audit_actions(page: Any) -> list[str]:
    return page.locator("#audit-records tr.audit-record").evaluate_all(
        "rows => rows.map(r => r.dataset.action)"
    )


def test_an_operator_exports_and_erases_a_customer_and_the_audit_page_shows_every_action(
    browser_page: BrowserPage, firestore_db, simulator
) -> None:
    conv, question = store_inbound(
        firestore_db, wa_id=CUSTOMER, name="Lee Morgan", text="Can I return shoes?"
    )
    store_ai_reply(firestore_db, conv, CUSTOMER, "Yes, within 30 days.", answered=[question])
    opted, _ = store_inbound(firestore_db, wa_id=OPTED_OUT, name="Noor", text="STOP")
    record_consent(firestore_db, opted, opted_out=True, message_id="m", keyword="stop", at=datetime.now(UTC))
    business_numbers.record_seen(firestore_db, PHONE_NUMBER_ID)
    page = browser_page.page
    browser_page.login()

    # An opted-out customer: the state is shown and the reply box will not send.
    browser_page.goto(f"/conversations/{opted}")
    assert page.locator("#opted-out").is_visible()
    assert page.locator("#reply-text").is_disabled() and page.locator("#send-reply").is_disabled()
    browser_page.screenshot("guardrails-opted-out")

    # The number's limits, on its Settings page.
    browser_page.goto("/settings")
    section = f"#number-{PHONE_NUMBER_ID}-limits"
    page.fill(f"{section} input[name=messages_per_minute]", "6")
    page.fill(f"{section} input[name=spend_cap_usd_per_day]", "4.50")
    page.click(f"{section} button[type=submit]")
    page.wait_for_selector("#notice")
    limits = limits_for(firestore_db, PHONE_NUMBER_ID, Settings())
    assert (limits.messages_per_minute, limits.spend_cap_usd_per_day) == (6, 4.5)
    browser_page.screenshot("guardrails-settings-limits")

    # Download, then delete, the customer's data.
    browser_page.goto(f"/conversations/{conv}")
    page.click("#pause-ai")
    page.wait_for_selector("#resume-ai")
    with page.expect_download() as download:
        page.click("#export-data")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    messages = json.loads(archive.read("conversation.json"))["messages"]
    assert [m["text"] for m in messages] == ["Can I return shoes?", "Yes, within 30 days."]

    page.fill("#erase-confirm", "1555")
    page.click("#erase-data")
    page.wait_for_selector("#notice")
    assert "Nothing was deleted" in page.locator("#notice").inner_text()
    page.fill("#erase-confirm", f"+{CUSTOMER}")
    page.click("#erase-data")
    page.wait_for_selector("#erasure-done")
    browser_page.screenshot("guardrails-erasure-done")
    assert not firestore_db.collection("conversations").document(conv).get().exists

    browser_page.goto("/audit")
    assert audit_actions(page) == ["erasure", "export", "pause", "settings", "login"]
    browser_page.screenshot("guardrails-audit")
    page.select_option("#audit-action", "export")
    page.click("#audit-filter button[type=submit]")
    page.wait_for_url("**/audit?*")
    assert audit_actions(page) == ["export"]
