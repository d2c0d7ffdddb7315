"""The Settings page: every business number with its voice, each field its own or the default."""

from __future__ import annotations

import re

from shared.store import business_numbers
from shared.store.business_numbers import Defaults
from tests.support.dashboard import XSS

SALES = "100000000000301"
SUPPORT = "100000000000302"


def listed_numbers(html: str) -> list[str]:
    return re.findall(r'data-phone-number-id="(\d+)"', html)


def stored(db, number: str):
    return business_numbers.get(db, number, Defaults())


def test_every_number_seen_is_listed_with_the_environments_defaults(make_app, firestore_db) -> None:
    from tests.support.dashboard import Operator

    business_numbers.record_seen(firestore_db, SALES)
    business_numbers.record_seen(firestore_db, SUPPORT)
    operator = Operator(make_app(SYSTEM_INSTRUCTION="Answer in rhymes.").test_client())
    operator.login()
    page = operator.get("/settings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert listed_numbers(html) == [SALES, SUPPORT]
    assert 'placeholder="Answer in rhymes."' in html  # the default, shown where nothing is set
    assert html.count(">default</span>") == 8  # 2 numbers x (3 voice settings + the handoff message)


def test_an_operator_sets_one_numbers_voice_and_the_other_keeps_the_defaults(operator, firestore_db) -> None:
    business_numbers.record_seen(firestore_db, SUPPORT)
    response = operator.post(
        f"/settings/{SALES}/voice",
        {"business_name": " Acme  Sales ", "system_instruction": "Sell.\r\nBe kind.", "fallback_reply": ""},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"notice=settings_saved#number-{SALES}-voice")
    sales = stored(firestore_db, SALES)
    assert (sales.business_name, sales.system_instruction) == ("Acme Sales", "Sell.\nBe kind.")
    assert sales.is_default("fallback_reply") and sales.updated_by == "operator"
    assert stored(firestore_db, SUPPORT).own == frozenset()
    html = operator.get("/settings?notice=settings_saved").get_data(as_text=True)
    assert "the next reply on this number uses these settings" in html
    assert listed_numbers(html) == [SALES, SUPPORT]
    assert 'value="Acme Sales"' in html and ">Sell.\nBe kind.</textarea>" in html


def test_a_value_that_cannot_be_stored_is_shown_again_with_the_reason_and_nothing_saved(
    operator, firestore_db
) -> None:
    business_numbers.record_seen(firestore_db, SALES)
    too_long = "x" * 101
    response = operator.post(
        f"/settings/{SALES}/voice", {"business_name": too_long, "system_instruction": "Keep me."}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Business name is 101 characters; at most 100 fit." in html
    assert f'value="{too_long}"' in html and ">Keep me.</textarea>" in html  # nothing typed is lost
    assert stored(firestore_db, SALES).own == frozenset()


def test_clearing_a_field_hands_it_back_to_the_default(operator, firestore_db) -> None:
    business_numbers.save(firestore_db, SALES, {"fallback_reply": "Call us."}, operator="someone")
    operator.post(f"/settings/{SALES}/voice", {"fallback_reply": "  "})
    assert stored(firestore_db, SALES).is_default("fallback_reply")


def test_a_number_can_be_added_before_its_first_customer_writes(operator, firestore_db) -> None:
    assert operator.post("/settings/numbers", {"phone_number_id": SALES}).status_code == 303
    assert listed_numbers(operator.get("/settings").get_data(as_text=True)) == [SALES]
    refused = operator.post("/settings/numbers", {"phone_number_id": "+1 555"})
    assert refused.status_code == 422 and "digits only" in refused.get_data(as_text=True)
    assert operator.post("/settings/not-a-number/voice", {"business_name": "x"}).status_code == 404


def test_settings_need_the_csrf_token_and_escape_what_operators_wrote(operator, firestore_db) -> None:
    refused = operator.client.post(f"/settings/{SALES}/voice", data={"business_name": "x"})
    assert refused.status_code in (400, 403)
    assert stored(firestore_db, SALES) is None
    operator.post(f"/settings/{SALES}/voice", {"business_name": XSS[:100], "system_instruction": XSS})
    html = operator.get("/settings").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_an_operator_sets_one_numbers_handoff_message(operator, firestore_db) -> None:
    business_numbers.record_seen(firestore_db, SUPPORT)
    response = operator.post(f"/settings/{SUPPORT}/handoff", {"handoff_message": "Um colega responde já."})

    assert response.status_code == 303 and "handoff" in response.headers["Location"]
    number = business_numbers.get(firestore_db, SUPPORT, business_numbers.Defaults())
    assert number.handoff_message == "Um colega responde já." and not number.is_default("handoff_message")
    too_long = operator.post(f"/settings/{SUPPORT}/handoff", {"handoff_message": "x" * 2000})
    assert too_long.status_code == 422 and "at most 1,024 fit" in too_long.get_data(as_text=True)
