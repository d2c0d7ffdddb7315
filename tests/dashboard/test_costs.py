"""Costs on the dashboard: the overview's cost per day by category and model, a conversation's
own total, the list sorted by cost, all priced with the rate card operators edit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.store import rates
from shared.store.schema import SentBy, rate_card_ref
from shared.store.statuses import apply_status
from shared.whatsapp.models import DeliveryStatus, Pricing, StatusUpdate
from tests.support.seed import PHONE_NUMBER_ID, record_sent, store_inbound


@pytest.fixture(autouse=True)
def _default_card(firestore_db):
    rate_card_ref(firestore_db).delete()
    rates.forget_cached_card()


def bill(db, wa_id: str, wamid: str, category: str) -> str:
    conv_id, _ = store_inbound(db, wa_id=wa_id, name=f"Customer {wa_id[-2:]}", text="hi")
    record_sent(db, conv_id, wa_id, wamid, "hello", sent_by=SentBy.AI)
    update = StatusUpdate(
        wamid, DeliveryStatus.SENT, datetime.now(UTC), wa_id, pricing=Pricing(True, category)
    )
    apply_status(db, PHONE_NUMBER_ID, update)
    return conv_id


def test_the_overview_prices_todays_billed_messages_by_category(operator, firestore_db) -> None:
    bill(firestore_db, "15550100001", "wamid.C1", "marketing")
    bill(firestore_db, "15550100002", "wamid.C2", "utility")

    page = operator.get("/").get_data(as_text=True)

    assert 'id="cost-overview"' in page
    assert 'data-category="marketing">$0.0250' in page  # North America's marketing rate
    assert 'data-category="utility">$0.0034' in page


def test_a_saved_rate_card_reprices_what_was_recorded(operator, firestore_db) -> None:
    conv_id = bill(firestore_db, "15550100003", "wamid.C3", "marketing")
    page = operator.get("/settings").get_data(as_text=True)
    assert 'name="msg.north_america.marketing" value="0.025"' in page
    form = {
        "msg.north_america.marketing": "0.5",
        "tok.gemini-3.8-flash.output": "3",
        "source": "test",
        "as_of": "2026-12-01",
    }

    saved = operator.post("/settings/rates", data=form)

    assert saved.status_code == 303 and "#settings-rates" in saved.headers["Location"]
    assert 'data-category="marketing">$0.5000' in operator.get("/").get_data(as_text=True)
    assert "$0.5000 so far" in operator.get(f"/conversations/{conv_id}").get_data(as_text=True)


def test_a_price_that_is_not_a_number_saves_nothing(operator, firestore_db) -> None:
    response = operator.post(
        "/settings/rates", data={"msg.north_america.marketing": "cheap", "tok.gemini-3.8-flash.output": "3"}
    )

    assert response.status_code == 422
    assert "north_america / marketing is not a number" in response.get_data(as_text=True)
    assert rates.read_rate_card(firestore_db).message_rate("marketing", "north_america") == 0.025


def test_the_list_sorted_by_cost_puts_the_costliest_conversation_first(operator, firestore_db) -> None:
    cheap = bill(firestore_db, "15550100004", "wamid.C4", "utility")
    dear = bill(firestore_db, "15550100005", "wamid.C5", "marketing")

    page = operator.get("/conversations?sort=cost").get_data(as_text=True)

    assert page.index(dear) < page.index(cheap)
