"""The knowledge base end to end in Chromium: an operator uploads a document on the Knowledge
page, a customer asks about a fact only it holds, the model is given that passage, the answer
records it, and the conversation page shows it as the answer's source. Screenshots of both
pages go to artifacts/screenshots/ (knowledge.png, answer-with-sources.png)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from local.emulators import ManagedProcess, free_port, start_function
from local.offline_gemini import start_offline_gemini
from local.simulator import DEFAULT_ACCESS_TOKEN, graph_api_url
from shared.bus import Job, ReceivedJob
from shared.clients import Clients
from shared.config import Settings
from shared.store import knowledge as store
from shared.store.schema import ai_responses
from tests.support.browser import SCREENSHOTS, BrowserPage
from tests.support.cloud import ARTIFACTS, PROJECT, base_env
from tests.support.dashboard import PASSWORD, SESSION_SECRET
from tests.support.seed import message, store_inbound

pytestmark = pytest.mark.browser

WA_ID = "15550004242"
MENU = """# Pastries

Our pastel de nata gets a pinch of Ceylon cinnamon and lemon zest from Sintra.
A box of six costs 7.20 EUR.

# Opening hours

We open at 07:30 on weekdays and at 09:00 on Saturdays.
"""


@pytest.fixture(scope="module")
def offline_model() -> Iterator[Any]:
    with start_offline_gemini() as running:
        yield running


@pytest.fixture(scope="module")
def knowledge_dashboard(emulators, simulator_server, offline_model) -> Iterator[ManagedProcess]:
    env = base_env(
        emulators,
        DASHBOARD_PASSWORD=PASSWORD,
        DASHBOARD_SESSION_SECRET=SESSION_SECRET,
        WHATSAPP_API_URL=graph_api_url(simulator_server),
        WHATSAPP_API_TOKEN=DEFAULT_ACCESS_TOKEN,
        GEMINI_BASE_URL=offline_model.url,
    )
    for name in ("IAP_AUDIENCE", "OPERATOR_EMAILS", "IAP_JWKS_URL"):
        env.pop(name, None)
    proc = start_function("dashboard", free_port(), env, ARTIFACTS / "logs")
    yield proc
    proc.stop()


@pytest.fixture
def page(chromium, knowledge_dashboard, firestore_db, simulator, offline_model) -> Iterator[BrowserPage]:
    offline_model.state.reset()
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC")
    browser_page = BrowserPage(context.new_page(), knowledge_dashboard.url)
    yield browser_page
    context.close()
    assert browser_page.foreign_requests == [], "the dashboard reached beyond localhost"
    assert browser_page.console_errors == [], f"console errors: {browser_page.console_errors}"


def upload(page: BrowserPage, name: str, data: bytes, mime: str) -> None:
    page.goto("/knowledge")
    page.page.set_input_files("#document", files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.page.click("#knowledge-upload button[type=submit]")
    page.page.wait_for_load_state()


def answer(settings: Settings, firestore_db: Any, conversation_id: str, wamid: str) -> None:
    """The reply job, as ai_reply runs it for the message's job."""
    from shared.ai_reply.job import handle_reply_job

    handle_reply_job(
        ReceivedJob(Job(conversation_id, wamid), "1", datetime.now(UTC)),
        settings,
        Clients(settings, firestore=firestore_db),
    )


def test_an_uploaded_document_grounds_the_answer_and_the_conversation_shows_its_source(
    page: BrowserPage, firestore_db, simulator_server, offline_model
) -> None:
    page.login()
    upload(page, "bakery-menu.md", MENU.encode(), "text/markdown")

    assert "The document was added" in page.page.locator("#notice").inner_text()
    row = page.page.locator(".knowledge-document").first
    assert "bakery-menu.md" in row.inner_text() and "2 passages" in row.inner_text()
    page.screenshot("knowledge")

    conversation_id, wamid = store_inbound(
        firestore_db, wa_id=WA_ID, name="Rita Lopes", text="What is in your pastel de nata?"
    )
    settings = Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "WHATSAPP_API_URL": graph_api_url(simulator_server),
            "WHATSAPP_API_TOKEN": DEFAULT_ACCESS_TOKEN,
            "GEMINI_BASE_URL": offline_model.url,
        }
    )
    answer(settings, firestore_db, conversation_id, wamid)

    (request,) = offline_model.state.requests()
    assert any("Ceylon cinnamon" in p["text"] for p in request["passages"])
    record = (
        ai_responses(firestore_db, conversation_id)
        .document(message(firestore_db, conversation_id, wamid)["ai_response_id"])
        .get()
        .to_dict()
    )
    (source,) = [k for k in record["knowledge"] if k["cited"]]
    assert (source["title"], source["heading"]) == ("bakery-menu.md", "Pastries")

    page.goto(f"/conversations/{conversation_id}")
    sources = page.page.locator(".message-outbound .ai-sources").first
    sources.locator("summary").click()
    assert "bakery-menu.md › Pastries" in sources.inner_text()
    assert "Ceylon cinnamon" in sources.inner_text()
    page.screenshot("answer-with-sources")
    assert (SCREENSHOTS / "knowledge.png").exists() and (SCREENSHOTS / "answer-with-sources.png").exists()


def test_an_unreadable_upload_says_why_on_the_page(page: BrowserPage, firestore_db) -> None:
    page.login()
    upload(page, "scan.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")

    assert "scan.png was not added" in page.page.locator("#knowledge-error").inner_text()
    assert store.list_documents(firestore_db) == []
    # The page answered 422 on purpose (the browser logs every 4xx): the only error allowed.
    expected = [e for e in page.console_errors if "status of 422" in e]
    assert len(expected) == 1
    page.console_errors.remove(expected[0])


def test_removing_a_document_takes_it_off_the_page(page: BrowserPage, firestore_db) -> None:
    page.login()
    upload(page, "hours.txt", b"Opening hours:\nWe open at nine.", "text/plain")
    page.page.click(".knowledge-document .remove-form button")
    page.page.wait_for_load_state()

    assert "removed" in page.page.locator("#notice").inner_text()
    assert page.page.locator(".knowledge-document").count() == 0
