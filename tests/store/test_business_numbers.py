"""Each business number's settings: its own where an operator set them, the environment's elsewhere."""

from __future__ import annotations

import pytest

from shared.config import Settings
from shared.store import business_numbers
from shared.store.business_numbers import VOICE, BusinessNumber, Defaults, InvalidSetting, clean_text

SALES = "100000000000101"
SUPPORT = "100000000000102"
DEFAULTS = Defaults(business_name="Acme", system_instruction="Be brief.", fallback_reply="Sorry!")


def voice(name: str):
    return next(s for s in VOICE if s.name == name)


def test_defaults_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"BUSINESS_NAME": "Acme", "SYSTEM_INSTRUCTION": "Be brief.", "FALLBACK_REPLY": "Sorry!"}
    )
    assert Defaults.from_settings(settings) == DEFAULTS


def test_a_number_without_a_document_has_every_default(firestore_db) -> None:
    assert business_numbers.get(firestore_db, SALES, DEFAULTS) is None
    number = business_numbers.for_reply(firestore_db, SALES, DEFAULTS)
    assert (number.business_name, number.system_instruction, number.fallback_reply) == (
        "Acme",
        "Be brief.",
        "Sorry!",
    )
    assert number.own == frozenset()
    # The first reply made it known to the Settings page.
    (listed,) = business_numbers.list_numbers(firestore_db, DEFAULTS)
    assert listed.phone_number_id == SALES and listed.first_seen_at is not None


def test_settings_saved_for_one_number_leave_the_others_on_the_defaults(firestore_db) -> None:
    business_numbers.record_seen(firestore_db, SUPPORT)
    business_numbers.save(
        firestore_db,
        SALES,
        {"business_name": "Acme Sales", "system_instruction": "Sell."},
        operator="ops@example.com",
    )
    sales = business_numbers.get(firestore_db, SALES, DEFAULTS)
    support = business_numbers.get(firestore_db, SUPPORT, DEFAULTS)
    assert (sales.business_name, sales.system_instruction, sales.fallback_reply) == (
        "Acme Sales",
        "Sell.",
        "Sorry!",
    )
    assert sales.own == {"business_name", "system_instruction"} and sales.updated_by == "ops@example.com"
    assert support.own == frozenset() and support.system_instruction == "Be brief."
    assert [n.phone_number_id for n in business_numbers.list_numbers(firestore_db, DEFAULTS)] == [
        SALES,
        SUPPORT,
    ]


def test_clearing_a_setting_hands_it_back_to_the_default(firestore_db) -> None:
    business_numbers.save(firestore_db, SALES, {"fallback_reply": "Call us."}, operator="ops")
    business_numbers.save(firestore_db, SALES, {"fallback_reply": None}, operator="ops")
    number = business_numbers.get(firestore_db, SALES, DEFAULTS)
    assert number.fallback_reply == "Sorry!" and number.is_default("fallback_reply")
    assert "fallback_reply" not in firestore_db.collection("business_numbers").document(SALES).get().to_dict()


def test_a_stored_value_of_the_wrong_type_or_blank_is_the_default() -> None:
    number = BusinessNumber.from_document(SALES, {"business_name": 42, "fallback_reply": "  "}, DEFAULTS)
    assert (number.business_name, number.fallback_reply, number.own) == ("Acme", "Sorry!", frozenset())


def test_only_declared_settings_are_stored(firestore_db) -> None:
    with pytest.raises(ValueError, match="not business number settings"):
        business_numbers.save(firestore_db, SALES, {"temperature": "2"}, operator="ops")
    with pytest.raises(ValueError, match="phone_number_id"):
        business_numbers.save(firestore_db, "../x", {"business_name": "A"}, operator="ops")


def test_operator_text_is_trimmed_checked_and_blank_means_default() -> None:
    assert clean_text(voice("business_name"), "  Acme \n Sales ") == "Acme Sales"
    assert clean_text(voice("system_instruction"), "Line one\r\nLine two\n") == "Line one\nLine two"
    assert clean_text(voice("fallback_reply"), "   ") is None
    with pytest.raises(InvalidSetting, match="at most 100"):
        clean_text(voice("business_name"), "x" * 101)
    with pytest.raises(InvalidSetting, match="control characters"):
        clean_text(voice("system_instruction"), "bell \x07")
