"""The Limits section of each business number's settings: shown with the defaults, saved, refused."""

from __future__ import annotations

from shared.config import Settings
from shared.store import business_numbers
from shared.store.limits import Limits, limits_for

NUMBER = "100000000000001"

FORM = {
    "messages_per_minute": "4",
    "messages_per_hour": "30",
    "tokens_per_day": "5000",
    "spend_cap_usd_per_day": "2.5",
    "notice": "  Slow down please ",
}


def test_the_settings_page_shows_each_numbers_limits_with_the_defaults(operator, firestore_db) -> None:
    business_numbers.record_seen(firestore_db, NUMBER)
    page = operator.get("/settings").get_data(as_text=True)
    assert f'id="number-{NUMBER}-limits"' in page
    assert f'name="messages_per_minute" value="{Settings().limit_messages_per_minute}"' in page
    assert "Model spend today: 0.00 USD" in page


def test_saved_limits_are_the_numbers_own_and_the_reply_function_reads_them(operator, firestore_db) -> None:
    business_numbers.record_seen(firestore_db, NUMBER)
    response = operator.post(f"/settings/{NUMBER}/limits", FORM)
    assert response.status_code == 303 and "limits" in response.headers["Location"]
    assert limits_for(firestore_db, NUMBER, Settings()) == Limits(4, 30, 5000, 2.5, "Slow down please")
    # The voice section's own fields are untouched by the limits form.
    assert business_numbers.get(firestore_db, NUMBER, business_numbers.Defaults()).own == frozenset()


def test_a_limit_that_is_not_a_number_is_refused_and_shown_again(operator, firestore_db) -> None:
    business_numbers.record_seen(firestore_db, NUMBER)
    response = operator.post(f"/settings/{NUMBER}/limits", {**FORM, "messages_per_hour": "-3"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Messages per hour must be a number, 0 or more." in page
    assert limits_for(firestore_db, NUMBER, Settings()) == Limits.defaults(Settings())
