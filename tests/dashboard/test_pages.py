"""What the pages show: conversations by last activity in cursor pages, search, filters, the
overview's numbers from counters and counts, and the quarantine."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import firestore

from shared.store import stats
from shared.store.quarantine import quarantine
from tests.support.seed import PHONE_NUMBER_ID, store_inbound


def conversation_ids(html: str) -> list[str]:
    return re.findall(r'data-conversation-id="([^"]+)"', html)


def seed_conversations(db: firestore.Client, count: int) -> list[str]:
    """`count` conversations, the first one the oldest; returns their ids newest first."""
    base = datetime.now(UTC) - timedelta(hours=2)
    batch = db.batch()
    ids = []
    for i in range(count):
        wa_id = f"1555010{i:04d}"
        conv_id = f"{PHONE_NUMBER_ID}_{wa_id}"
        ids.append(conv_id)
        batch.set(
            db.collection("conversations").document(conv_id),
            {
                "wa_id": wa_id,
                "phone_number_id": PHONE_NUMBER_ID,
                "display_name": f"Customer {i:02d}",
                "display_name_lower": f"customer {i:02d}",
                "last_message_at": base + timedelta(minutes=i),
                "last_message_preview": f"message {i}",
                "message_count": 1,
                "ai_paused": i % 5 == 0,
                "needs_attention": i % 7 == 0,
                "has_failure": i % 11 == 0,
            },
        )
        # What the webhook counts when a conversation starts (shared.store.inbound).
        stats.add_lifetime_increments(batch, db, stats.conversation_started(), conv_id)
    batch.commit()
    return list(reversed(ids))


def test_conversations_are_listed_by_last_activity_in_pages_without_gaps_or_repeats(
    operator, firestore_db
) -> None:
    newest_first = seed_conversations(firestore_db, 30)
    first = operator.get("/conversations").get_data(as_text=True)
    assert conversation_ids(first) == newest_first[:25]
    next_url = re.search(r'href="(/conversations\?after=[^"]+)"', first).group(1)
    second = operator.get(next_url.replace("&amp;", "&")).get_data(as_text=True)
    assert conversation_ids(second) == newest_first[25:]
    assert "after=" not in second.split('id="conversation-list"', 1)[1]


def test_filters_show_only_conversations_with_that_flag(operator, firestore_db) -> None:
    seed_conversations(firestore_db, 30)
    expectations = {
        "paused": lambda i: i % 5 == 0,
        "attention": lambda i: i % 7 == 0,
        "failed": lambda i: i % 11 == 0,
    }
    for name, flagged in expectations.items():
        shown = conversation_ids(operator.get(f"/conversations?filter={name}").get_data(as_text=True))
        expected = [f"{PHONE_NUMBER_ID}_1555010{i:04d}" for i in reversed(range(30)) if flagged(i)]
        assert shown == expected, name


def test_search_finds_conversations_by_phone_number_prefix_or_name_prefix(operator, firestore_db) -> None:
    seed_conversations(firestore_db, 30)
    by_number = conversation_ids(
        operator.get("/conversations?q=%2B1%20555%20010%20002").get_data(as_text=True)
    )
    assert sorted(by_number) == sorted(f"{PHONE_NUMBER_ID}_1555010{i:04d}" for i in range(20, 30))
    by_name = conversation_ids(operator.get("/conversations?q=CUSTOMER%2007").get_data(as_text=True))
    assert by_name == [f"{PHONE_NUMBER_ID}_15550100007"]
    assert conversation_ids(operator.get("/conversations?q=nobody").get_data(as_text=True)) == []


@pytest.mark.parametrize("query", ["STRASSE", "strasse", "Straße", "STRAS"])
def test_a_name_stored_by_the_webhook_is_found_by_its_casefolded_spelling(
    operator, firestore_db, query
) -> None:
    """The webhook stores and the dashboard searches the same key: "ß" casefolds to "ss"."""
    conv_id, _ = store_inbound(firestore_db, wa_id="15550004444", name="Straße Müller", text="hallo")
    store_inbound(firestore_db, wa_id="15550004445", name="Strand Café", text="hi")
    found = conversation_ids(operator.get("/conversations", query_string={"q": query}).get_data(as_text=True))
    assert found == [conv_id]


def test_a_name_in_a_right_to_left_script_is_marked_for_the_browser_to_direct(operator, firestore_db) -> None:
    conv_id, _ = store_inbound(firestore_db, wa_id="15550005555", name="مريم", text="مرحبا، هل لديكم توصيل؟")
    page = operator.get(f"/conversations/{conv_id}").get_data(as_text=True)
    assert '<h1 class="h4 mb-0 text-truncate" dir="auto">مريم</h1>' in page
    assert '<div class="text" dir="auto">مرحبا، هل لديكم توصيل؟</div>' in page


def test_the_overview_counts_conversations_and_reads_the_daily_counters(operator, firestore_db) -> None:
    seed_conversations(firestore_db, 12)
    now = datetime.now(UTC)
    batch = firestore_db.batch()
    for i in range(3):
        stats.add_stat_increments(batch, firestore_db, now, stats.inbound_message_stored("text"), f"in-{i}")
    stats.add_stat_increments(batch, firestore_db, now, stats.inbound_message_stored("image"), "in-img")
    stats.add_stat_increments(
        batch,
        firestore_db,
        now,
        {
            **stats.model_answered(input_tokens=1000, output_tokens=234, thinking_tokens=66, latency_ms=900),
            **stats.ai_reply_sent(reply_latency_ms=1800),
        },
        "reply-1",
    )
    stats.add_stat_increments(batch, firestore_db, now, stats.outbound_message_recorded("ai"), "out-1")
    stats.add_stat_increments(batch, firestore_db, now, stats.message_failed("outbound"), "out-2")
    stats.add_stat_increments(
        batch, firestore_db, now - timedelta(days=3), stats.inbound_message_stored("audio"), "old"
    )
    batch.commit()

    page = operator.get("/").get_data(as_text=True)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Conversations 12 12 active in 24 h" in text
    assert "Messages today 5 4 received · 1 sent" in text
    assert "Messages, 7 days 6 5 received · 1 sent" in text
    assert "Tokens today 1,300 1,000 in · 234 out · 66 thinking" in text
    assert "Failures 1 1 in 7 days" in text
    assert "AI replies 1 1 in 7 days" in text
    assert "text 3 3" in text and "image 1 1" in text and "audio 0 1" in text
    assert page.count('class="bar series-received"') == 2  # today and three days ago
    assert "95th percentile" in text


def test_the_overview_of_an_empty_system_says_so(operator) -> None:
    page = operator.get("/").get_data(as_text=True)
    assert "No data yet" in page
    assert "No conversations yet." in page


def test_quarantine_lists_reasons_and_opens_one_body(operator, firestore_db) -> None:
    entry = quarantine(
        firestore_db, b'{"entry": "<b>not a list</b>"}', reason="entry is not a list", path="entry"
    )
    listing = operator.get("/quarantine").get_data(as_text=True)
    assert "entry is not a list" in listing
    detail = operator.get(f"/quarantine/{entry}").get_data(as_text=True)
    assert "&lt;b&gt;not a list&lt;/b&gt;" in detail
    assert operator.get("/quarantine/no-such-entry").status_code == 404


def test_a_quarantined_body_too_large_to_show_downloads_whole_byte_for_byte(operator, firestore_db) -> None:
    body = b'{"entry": "' + "é".encode() * 1_400_000 + b'\xff"}'  # 2.8 MB, and not valid UTF-8
    entry = quarantine(firestore_db, body, reason="entry is not a list", path="entry")
    assert firestore_db.collection("quarantine").document(entry).get().get("truncated")

    download = operator.get(f"/quarantine/{entry}/body")

    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.data == body
    assert "Download the whole body" in operator.get(f"/quarantine/{entry}").get_data(as_text=True)
    # A redelivery of the same body keeps one entry and its chunks once.
    assert quarantine(firestore_db, body, reason="entry is not a list", path="entry") == entry
    assert operator.get(f"/quarantine/{entry}/body").data == body


def test_a_small_quarantined_body_downloads_as_it_was_received(operator, firestore_db) -> None:
    body = b'{"entry": "not a list"}'
    entry = quarantine(firestore_db, body, reason="entry is not a list", path="entry")
    assert operator.get(f"/quarantine/{entry}/body").data == body


def test_a_malformed_cursor_is_a_bad_request_not_an_error(operator) -> None:
    assert operator.get("/conversations?after=%%%").status_code == 400
    assert operator.get("/conversations/x_y?before=bm90LWpzb24").status_code == 400


def test_an_unknown_conversation_is_not_found(operator) -> None:
    assert operator.get("/conversations/100_200").status_code == 404
    assert operator.get("/conversations/..").status_code == 404
