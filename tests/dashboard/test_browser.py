"""The dashboard in a real headless Chromium, served by functions-framework on the emulators.

Every request the browser makes is routed through a guard that fails the test if it is meant
for any host but 127.0.0.1, and every page is screenshotted into artifacts/screenshots/.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from google.cloud import storage

from local.emulators import ManagedProcess, free_port, start_function
from local.simulator import DEFAULT_ACCESS_TOKEN, DEFAULT_WABA_ID, graph_api_url
from shared.bucket import DERIVED, MediaBucket
from shared.store import stats
from shared.store.statuses import apply_status
from shared.whatsapp.models import DeliveryStatus, StatusUpdate
from tests.support.chromium import CHROMIUM
from tests.support.cloud import ARTIFACTS, PROJECT, base_env
from tests.support.cloud import MEDIA_BUCKET as BUCKET
from tests.support.dashboard import PASSWORD, SESSION_SECRET, XSS
from tests.support.seed import PHONE_NUMBER_ID, conversation, store_ai_reply, store_inbound

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ARTIFACTS / "screenshots"
WA_ID = "15550009999"
LIVE_DEADLINE_MS = 3000


@pytest.fixture(scope="module", autouse=True)
def _fresh_screenshots() -> None:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)


def _browser_or_skip() -> Any:
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip(
            f"browser tests need Chromium at {CHROMIUM}: `make test` installs it (tests/support/chromium.py)"
        )
    if os.environ.get("CI"):
        from playwright.sync_api import sync_playwright
    else:
        sync_playwright = pytest.importorskip(
            "playwright.sync_api", reason="pip install playwright"
        ).sync_playwright
    return sync_playwright


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def dashboard(emulators, storage_emulator, simulator_server) -> Iterator[ManagedProcess]:
    env = base_env(
        emulators,
        DASHBOARD_PASSWORD=PASSWORD,
        DASHBOARD_SESSION_SECRET=SESSION_SECRET,
        MEDIA_BUCKET=BUCKET,
        WHATSAPP_API_URL=graph_api_url(simulator_server),
        WHATSAPP_API_TOKEN=DEFAULT_ACCESS_TOKEN,
        WHATSAPP_BUSINESS_ACCOUNT_ID=DEFAULT_WABA_ID,
        **storage_emulator.env,
    )
    for name in ("IAP_AUDIENCE", "OPERATOR_EMAILS", "IAP_JWKS_URL"):
        env.pop(name, None)
    proc = start_function("dashboard", free_port(), env, ARTIFACTS / "logs")
    yield proc
    proc.stop()


class BrowserPage:
    """A page whose requests, dialogs and console errors the test can inspect."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.foreign_requests: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on(
            "console", lambda message: message.type == "error" and self.console_errors.append(message.text)
        )
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        page.route("**/*", self._guard)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _guard(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname != "127.0.0.1":
            self.foreign_requests.append(url)
            route.abort()
        else:
            route.continue_()

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def login(self) -> None:
        self.goto("/login")
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base_url + "/")

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("() => window.scrollTo(0, 0)")  # the sticky navbar belongs at the top
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def browser_page(chromium, dashboard, firestore_db, simulator) -> Iterator[BrowserPage]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC")
    page = BrowserPage(context.new_page(), dashboard.url)
    yield page
    context.close()
    assert page.foreign_requests == [], "the dashboard reached beyond localhost"
    assert page.dialogs == [], f"a script ran: {page.dialogs}"
    assert page.console_errors == [], f"console errors (CSP violations?): {page.console_errors}"


@pytest.fixture
def seeded(firestore_db, storage_emulator, monkeypatch) -> dict[str, str]:
    """A conversation with text, an AI reply, an injection attempt, right-to-left text and an image."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator.env["STORAGE_EMULATOR_HOST"])
    conv, hello = store_inbound(
        firestore_db, wa_id=WA_ID, name="Kerry Fisher", text="Hello! Do you deliver to Madrid? 🚚"
    )
    reply = store_ai_reply(
        firestore_db, conv, WA_ID, "Yes, we deliver to Madrid in 2–3 working days.", answered=[hello]
    )
    apply_status(
        firestore_db, PHONE_NUMBER_ID, StatusUpdate(reply, DeliveryStatus.READ, datetime.now(UTC), WA_ID)
    )
    _, injection = store_inbound(firestore_db, wa_id=WA_ID, name="Kerry Fisher", text=XSS)
    _, arabic = store_inbound(
        firestore_db, wa_id=WA_ID, name="Kerry Fisher", text="مرحبا، هل يمكنني تغيير العنوان؟"
    )
    bucket = MediaBucket(storage.Client(project=PROJECT), BUCKET)
    original = bucket.put(conv, picture(), "image/png", ".png")
    derived = bucket.put(conv, picture(), "image/png", ".png", folder=DERIVED)
    _, photo = store_inbound(
        firestore_db,
        wa_id=WA_ID,
        name="Kerry Fisher",
        kind="image",
        content={"id": "m1", "mime_type": "image/png", "caption": "the parcel"},
    )
    firestore_db.collection("conversations").document(conv).collection("messages").document(photo).update(
        {
            "media.status": "ready",
            "media.gcs_uri": original.gcs_uri,
            "media.derived_uri": derived.gcs_uri,
            "status": "answered",
        }
    )
    store_inbound(firestore_db, wa_id="15550001212", name="Ana García", text="¿Está abierto el domingo?")
    history(firestore_db)
    return {"conversation": conv, "injection": injection, "arabic": arabic, "photo": photo}


def picture() -> bytes:
    """A 320x200 PNG, so the thread shows a real image from the bucket."""
    from PIL import Image

    image = Image.new("RGB", (320, 200), (37, 211, 102))
    image.paste((18, 140, 126), (0, 100, 320, 200))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def history(db: Any) -> None:
    """Two weeks of counters, as the webhook and the reply loop add them."""
    batch = db.batch()
    today = datetime.now(UTC)
    for days_ago in range(14):
        when = today - timedelta(days=days_ago)
        for i in range(6 + (days_ago * 7) % 11):
            kind = "text" if i % 4 else "image"
            stats.add_stat_increments(
                batch, db, when, stats.inbound_message_stored(kind), f"in-{days_ago}-{i}"
            )
            stats.add_stat_increments(
                batch, db, when, stats.outbound_message_recorded("ai"), f"out-{days_ago}-{i}"
            )
            latency = 900 + ((i * 733 + days_ago * 97) % 4000)
            reply = {
                **stats.model_answered(input_tokens=400, output_tokens=60, latency_ms=latency * 0.7),
                **stats.ai_reply_sent(reply_latency_ms=latency),
            }
            stats.add_stat_increments(batch, db, when, reply, f"reply-{days_ago}-{i}")
        if days_ago % 5 == 0:
            stats.add_stat_increments(batch, db, when, stats.message_failed("outbound"), f"failed-{days_ago}")
    batch.commit()


def bubble(page: Any, message_id: str) -> Any:
    return page.locator(f'.message[data-message-id="{message_id}"]')


def test_an_operator_signs_in_and_sees_each_page(browser_page: BrowserPage, seeded) -> None:
    browser_page.goto("/")
    assert "/login" in browser_page.page.url
    browser_page.screenshot("login")
    browser_page.login()
    assert browser_page.page.locator("h1").first.inner_text() == "Overview"
    browser_page.screenshot("overview")
    browser_page.goto("/conversations")
    assert browser_page.page.locator(".conversation-row").count() == 2
    browser_page.screenshot("conversations")
    browser_page.goto(f"/conversations/{seeded['conversation']}")
    assert "Yes, we deliver to Madrid" in browser_page.page.locator("#thread").inner_text()
    image = bubble(browser_page.page, seeded["photo"]).locator("img")
    image.wait_for()
    assert browser_page.page.evaluate("(img) => img.naturalWidth", image.element_handle()) == 320
    browser_page.screenshot("conversation")
    browser_page.goto("/quarantine")
    browser_page.screenshot("quarantine")


def test_an_injected_script_shows_as_text_and_runs_nothing(
    browser_page: BrowserPage, seeded, firestore_db
) -> None:
    browser_page.login()
    browser_page.goto(f"/conversations/{seeded['conversation']}")
    text = bubble(browser_page.page, seeded["injection"]).locator(".text")
    assert text.inner_text() == XSS
    assert bubble(browser_page.page, seeded["injection"]).locator("script, img").count() == 0
    # The same text arriving through a live update must stay text too.
    _, live_injection = store_inbound(firestore_db, wa_id=WA_ID, name="Kerry Fisher", text=XSS + " (live)")
    bubble(browser_page.page, live_injection).wait_for(timeout=LIVE_DEADLINE_MS + 2000)
    assert bubble(browser_page.page, live_injection).locator(".text").inner_text() == XSS + " (live)"
    assert bubble(browser_page.page, live_injection).locator("script, img").count() == 0
    browser_page.page.wait_for_timeout(500)  # give a rogue onerror handler the chance to fire


def test_right_to_left_text_reads_right_to_left(browser_page: BrowserPage, seeded) -> None:
    browser_page.login()
    browser_page.goto(f"/conversations/{seeded['conversation']}")
    text = bubble(browser_page.page, seeded["arabic"]).locator(".text")
    assert text.evaluate("(el) => getComputedStyle(el).direction") == "rtl"
    english = browser_page.page.locator(".message .text").first
    assert english.evaluate("(el) => getComputedStyle(el).direction") == "ltr"


def test_pausing_the_ai_and_replying_by_hand_reaches_whatsapp(
    browser_page: BrowserPage, seeded, simulator, firestore_db
) -> None:
    conv = seeded["conversation"]
    browser_page.login()
    browser_page.goto(f"/conversations/{conv}")
    browser_page.page.click("#pause-ai")
    browser_page.page.wait_for_selector("#resume-ai")
    assert conversation(firestore_db, conv)["ai_paused"] is True
    assert browser_page.page.locator('[data-flag="ai_paused"]').is_visible()
    browser_page.page.fill("#reply-text", "Hi Kerry, this is Sam from the shop. Your parcel leaves today.")
    browser_page.page.click("#send-reply")
    browser_page.page.wait_for_selector("#notice")
    assert "Your reply was sent." in browser_page.page.locator("#notice").inner_text()
    sent = simulator.wait_outbox(1, timeout=5, wa_id=WA_ID)
    assert [m["text"] for m in sent] == ["Hi Kerry, this is Sam from the shop. Your parcel leaves today."]
    operator_bubble = browser_page.page.locator(".message.author-operator").last
    assert "Your parcel leaves today." in operator_bubble.inner_text()
    browser_page.screenshot("conversation-paused-and-answered")


def test_new_messages_and_status_changes_appear_without_a_reload(
    browser_page: BrowserPage, seeded, firestore_db
) -> None:
    conv = seeded["conversation"]
    browser_page.login()
    browser_page.goto(f"/conversations/{conv}")
    browser_page.page.evaluate("() => { window.stillTheSamePage = true; }")
    _, wamid = store_inbound(firestore_db, wa_id=WA_ID, name="Kerry Fisher", text="Are you still there?")
    bubble(browser_page.page, wamid).wait_for(timeout=LIVE_DEADLINE_MS)
    reply = store_ai_reply(firestore_db, conv, WA_ID, "Yes! How can I help?", answered=[wamid])
    bubble(browser_page.page, reply).wait_for(timeout=LIVE_DEADLINE_MS)
    assert bubble(browser_page.page, reply).locator(".ticks.pending").count() == 1
    apply_status(
        firestore_db, PHONE_NUMBER_ID, StatusUpdate(reply, DeliveryStatus.READ, datetime.now(UTC), WA_ID)
    )
    bubble(browser_page.page, reply).locator(".ticks.read").wait_for(timeout=LIVE_DEADLINE_MS)
    assert browser_page.page.evaluate("() => window.stillTheSamePage") is True
    browser_page.screenshot("conversation-live")


def test_the_conversation_list_moves_a_conversation_with_new_activity_to_the_top(
    browser_page: BrowserPage, seeded, firestore_db
) -> None:
    browser_page.login()
    browser_page.goto("/conversations")
    first = browser_page.page.locator(".conversation-row").first
    assert "Ana García" in first.inner_text()
    store_inbound(firestore_db, wa_id=WA_ID, name="Kerry Fisher", text="One more thing")
    browser_page.page.wait_for_function(
        "() => document.querySelector('.conversation-row .preview').textContent === 'One more thing'",
        timeout=LIVE_DEADLINE_MS,
    )
    assert browser_page.page.locator(".conversation-row").count() == 2


def test_the_dashboard_fits_a_phone_screen(chromium, dashboard, seeded, simulator) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = BrowserPage(context.new_page(), dashboard.url)
    try:
        page.login()
        for path, name in (
            ("/", "phone-overview"),
            (f"/conversations/{seeded['conversation']}", "phone-conversation"),
        ):
            page.goto(path)
            overflow = page.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
            page.screenshot(name)
        page.page.click(".navbar-toggler")
        page.page.locator("#main-nav").get_by_text("Quarantine").wait_for()
    finally:
        context.close()
    assert page.foreign_requests == [] and page.dialogs == [] and page.console_errors == []


ORDER_UPDATE = {
    "name": "order_update",
    "language": "en_US",
    "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
        {"type": "BODY", "text": "Hello {{1}}, your order is {{2}}. Reply here if you need anything."},
        {"type": "FOOTER", "text": "Ana's bakery"},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": "Track", "url": "https://example.com/t/{{1}}"}],
        },
    ],
}


def test_a_closed_window_offers_synced_templates_and_sends_the_filled_one_once(
    browser_page: BrowserPage, firestore_db, simulator
) -> None:
    simulator.add_template(ORDER_UPDATE)
    simulator.add_template({**ORDER_UPDATE, "name": "pending_one", "status": "PENDING"})
    conv, _ = store_inbound(firestore_db, wa_id="15550004242", name="Lena Ortiz", text="Where is my cake?")
    firestore_db.collection("conversations").document(conv).update(
        {"last_inbound_at": datetime.now(UTC) - timedelta(hours=30)}
    )
    page = browser_page.page
    browser_page.login()

    browser_page.goto("/templates")
    page.click("#sync-templates")
    page.wait_for_selector("#notice")
    assert (
        page.locator(
            '#template-list tr[data-template="order_update:en_US"] [data-field="status"]'
        ).inner_text()
        == "approved"
    )
    browser_page.screenshot("templates")

    browser_page.goto(f"/conversations/{conv}")
    assert page.locator("#window-state").inner_text().strip().startswith("Window closed 6 h ago")
    assert page.locator("#reply-form").count() == 0
    options = page.locator("#template-choice option").all_inner_texts()
    assert options == ["Choose a template…", "order_update · en_US · utility"]  # approved ones only
    template_id = page.locator("#template-choice option").nth(1).get_attribute("value")
    page.select_option("#template-choice", template_id)
    fields = page.locator(f'.template-fields[data-template-id="{template_id}"]')
    fields.locator('[data-slot="header_1"]').fill("A-17")
    fields.locator('[data-slot="body_1"]').fill("Lena")
    fields.locator('[data-slot="body_2"]').fill("out for delivery")
    fields.locator('[data-slot="button_0"]').fill("A-17")
    assert page.locator("#template-preview").inner_text() == (
        "Order A-17\nHello Lena, your order is out for delivery. Reply here if you need anything.\nAna's bakery"
    )
    browser_page.screenshot("template-picker")

    page.dblclick("#send-template")  # a double click sends one message
    page.wait_for_selector("#notice")
    assert "The template was sent" in page.locator("#notice").inner_text()
    time.sleep(0.5)
    (sent,) = simulator.outbox(wa_id="15550004242")
    assert sent["type"] == "template"
    assert sent["text"] == (
        "Order A-17\nHello Lena, your order is out for delivery. Reply here if you need anything.\nAna's bakery"
    )
    assert sent["template"]["components"][-1] == {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "A-17"}],
    }
    assert "template order_update · en_US · utility" in page.locator("#thread").inner_text()
    browser_page.screenshot("template-sent")


def test_the_overview_shows_the_cost_of_each_day_by_category_and_model(
    browser_page: BrowserPage, firestore_db
) -> None:
    from shared.store import ledger, rates
    from shared.store.schema import rate_card_ref

    rate_card_ref(firestore_db).delete()
    rates.forget_cached_card()
    batch = firestore_db.batch()
    today = datetime.now(UTC)
    for days_ago in range(14):
        when = today - timedelta(days=days_ago)
        counted = {
            **ledger.billed_message("service", "north_america"),
            **ledger.model_tokens(
                "gemini-3.8-flash",
                input_tokens=40_000,
                cached_tokens=10_000,
                output_tokens=6_000,
                thinking_tokens=9_000,
            ),
        }
        for i in range(3 + days_ago % 4):
            stats.add_stat_increments(batch, firestore_db, when, counted, f"cost-{days_ago}-{i}")
        if days_ago % 3 == 0:
            stats.add_stat_increments(
                batch, firestore_db, when, ledger.billed_message("marketing", "brazil"), f"mkt-{days_ago}"
            )
    batch.commit()
    browser_page.login()

    table = browser_page.page.locator("#cost-overview")
    today_row = table.locator(f'tr[data-day="{today.date().isoformat()}"]')
    # 3 service messages at 0.0034, one Brazilian marketing one at 0.0625, and 3 answers' tokens.
    tokens = 3 * (30_000 * 0.50 + 10_000 * 0.05 + 6_000 * 3.00 + 9_000 * 3.00) / 1e6
    assert today_row.locator('[data-category="service"]').inner_text() == "$0.0102"
    assert today_row.locator('[data-category="marketing"]').inner_text() == "$0.0625"
    assert today_row.locator('[data-model="gemini-3.8-flash"]').inner_text() == f"${tokens:,.4f}"
    browser_page.screenshot("overview-costs")
    table.screenshot(path=str(SCREENSHOTS / "cost-overview.png"))

    browser_page.page.click("#cost-overview a")  # "edit": the rate card on the settings page
    browser_page.page.wait_for_selector("#rates-form")
    assert browser_page.page.locator('[name="msg.north_america.service"]').input_value() == "0.0034"
    browser_page.screenshot("settings-rate-card")


def test_an_operator_gives_a_business_number_its_own_voice_on_the_settings_page(
    browser_page: BrowserPage, seeded, firestore_db
) -> None:
    from shared.store import business_numbers

    business_numbers.record_seen(firestore_db, PHONE_NUMBER_ID)
    browser_page.login()
    browser_page.goto("/settings")
    prefix = f"#voice-{PHONE_NUMBER_ID}"
    browser_page.page.fill(f"{prefix}-business_name", "Acme Sales")
    browser_page.page.fill(f"{prefix}-system_instruction", "Sell, kindly.")
    browser_page.page.click(f"#number-{PHONE_NUMBER_ID}-voice button[type=submit]")
    browser_page.page.wait_for_selector("#notice")
    assert (
        "the next reply on this number uses these settings"
        in browser_page.page.locator("#notice").inner_text()
    )
    assert browser_page.page.input_value(f"{prefix}-business_name") == "Acme Sales"
    number = business_numbers.get(firestore_db, PHONE_NUMBER_ID, business_numbers.Defaults())
    assert (number.business_name, number.system_instruction) == ("Acme Sales", "Sell, kindly.")
    browser_page.screenshot("settings")


def test_a_phone_less_customer_appears_live_by_username_and_bsuid(
    browser_page: BrowserPage, seeded, firestore_db
) -> None:
    from tests.support.seed import store_identified

    browser_page.login()
    browser_page.goto("/conversations")
    store_identified(
        firestore_db, user_id="US.13491208655302741918", username="maya.bakes", name="Maya", job_topic=None
    )
    browser_page.page.wait_for_function(
        "() => document.querySelector('.conversation-row .identity').textContent.includes('@maya.bakes')",
        timeout=LIVE_DEADLINE_MS,
    )
    first = browser_page.page.locator(".conversation-row").first.inner_text()
    assert "US.13491208655302741918" in first and "Assistant" in first
