"""The cost ledger's quantities: a message is billed once however many statuses carry its pricing,
by category and the customer's market, on the day's counters and on its conversation; an answer's
tokens are counted by model and kind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.store import ledger, rates
from shared.store.schema import SentBy
from shared.store.stats import read_daily_stats
from shared.store.statuses import apply_status
from shared.whatsapp.models import DeliveryStatus, Pricing, StatusUpdate
from tests.support.seed import PHONE_NUMBER_ID, conversation, message, record_sent, store_inbound

pytestmark = pytest.mark.emulators

WA_ID = "447700900123"  # a United Kingdom number
UTILITY = Pricing(billable=True, category="utility")


def status(wamid: str, state: DeliveryStatus, pricing: Pricing | None) -> StatusUpdate:
    return StatusUpdate(wamid, state, datetime.now(UTC), WA_ID, pricing=pricing)


def test_the_market_is_the_customers_calling_code() -> None:
    assert ledger.market_of("447700900123") == "united_kingdom"
    assert ledger.market_of("15551234567") == "north_america"
    assert ledger.market_of("9715000000") == "united_arab_emirates"
    assert ledger.market_of("88212345") == "other"


def test_a_message_is_billed_once_though_two_statuses_carry_its_pricing(firestore_db) -> None:
    conv_id, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Hal", text="hi")
    record_sent(firestore_db, conv_id, WA_ID, "wamid.B1", "hello", sent_by=SentBy.AI)
    before = read_daily_stats(firestore_db, 1)[0].billed

    apply_status(firestore_db, PHONE_NUMBER_ID, status("wamid.B1", DeliveryStatus.SENT, UTILITY))
    apply_status(firestore_db, PHONE_NUMBER_ID, status("wamid.B1", DeliveryStatus.DELIVERED, UTILITY))
    apply_status(firestore_db, PHONE_NUMBER_ID, status("wamid.B1", DeliveryStatus.DELIVERED, UTILITY))

    stored = message(firestore_db, conv_id, "wamid.B1")
    assert stored["pricing"] == {
        "billable": True,
        "category": "utility",
        "pricing_model": "PMP",
        "type": "regular",
        "market": "united_kingdom",
    }
    assert stored["status"] == "delivered"
    after = read_daily_stats(firestore_db, 1)[0].billed
    assert after["utility"]["united_kingdom"] - before.get("utility", {}).get("united_kingdom", 0) == 1
    conv = conversation(firestore_db, conv_id)
    assert conv["billed"] == {"utility": {"united_kingdom": 1}}
    assert conv["cost_micros"] == round(rates.RateCard().message_rate("utility", "united_kingdom") * 1e6)


def test_pricing_on_a_status_that_comes_after_a_higher_one_is_still_recorded(firestore_db) -> None:
    conv_id, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Ida", text="hi")
    record_sent(firestore_db, conv_id, WA_ID, "wamid.B2", "hello", sent_by=SentBy.AI)

    apply_status(firestore_db, PHONE_NUMBER_ID, status("wamid.B2", DeliveryStatus.READ, None))
    apply_status(firestore_db, PHONE_NUMBER_ID, status("wamid.B2", DeliveryStatus.SENT, UTILITY))

    stored = message(firestore_db, conv_id, "wamid.B2")
    assert stored["status"] == "read" and stored["pricing"]["category"] == "utility"


def test_a_free_message_is_recorded_and_not_billed(firestore_db) -> None:
    conv_id, _ = store_inbound(firestore_db, wa_id=WA_ID, name="Jo", text="hi")
    record_sent(firestore_db, conv_id, WA_ID, "wamid.B3", "hello", sent_by=SentBy.AI)
    free = Pricing(billable=False, category="service", type="free_customer_service")

    apply_status(firestore_db, PHONE_NUMBER_ID, status("wamid.B3", DeliveryStatus.SENT, free))

    assert message(firestore_db, conv_id, "wamid.B3")["pricing"]["billable"] is False
    assert "billed" not in conversation(firestore_db, conv_id)


def test_token_quantities_are_keyed_by_model_and_kind_and_priced_by_the_card() -> None:
    counted = ledger.model_tokens(
        "models/gemini-3.8-flash",
        input_tokens=1_000,
        cached_tokens=400,
        output_tokens=200,
        thinking_tokens=50,
    )
    assert counted == {
        "tokens_by_model.gemini-3_8-flash.input": 600,
        "tokens_by_model.gemini-3_8-flash.cached": 400,
        "tokens_by_model.gemini-3_8-flash.output": 200,
        "tokens_by_model.gemini-3_8-flash.thinking": 50,
    }
    card = rates.RateCard()
    cost = card.tokens_cost(
        {"gemini-3_8-flash": {"input": 600, "cached": 400, "output": 200, "thinking": 50}}
    )
    assert cost == pytest.approx((600 * 0.50 + 400 * 0.05 + 200 * 3.00 + 50 * 3.00) / 1e6)
    assert card.model_name("gemini-3_8-flash") == "gemini-3.8-flash"
