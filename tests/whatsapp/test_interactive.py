"""Choices fitted to Meta's limits: cut at a word, never refused."""

from __future__ import annotations

import pytest

from shared.whatsapp.interactive import ChoiceKind, Choices, Option, cut_at_word, fit
from shared.whatsapp.text import meta_length


def test_a_title_is_cut_after_a_whole_word_with_an_ellipsis():
    assert cut_at_word("Book a table on the terrace for tonight", 20) == "Book a table on the…"
    assert cut_at_word("Short title", 20) == "Short title"
    assert cut_at_word("Donaudampfschifffahrtsgesellschaft", 20) == "Donaudampfschifffah…"


def test_emoji_count_as_meta_counts_them():
    title = "🍰🍰🍰🍰🍰🍰🍰🍰🍰🍰🍰🍰"  # 12 characters, 24 UTF-16 units
    assert meta_length(cut_at_word(title, 20)) <= 20


def test_more_than_three_options_become_a_list_of_at_most_ten_rows():
    fitted = fit(Choices(ChoiceKind.BUTTONS, tuple(Option(f"Option {n}") for n in range(14))))

    assert fitted is not None and fitted.kind is ChoiceKind.LIST
    assert len(fitted.options) == 10 and fitted.left_out == 4
    assert fitted.button == "Choose"


def test_a_cut_row_title_is_read_whole_in_its_description():
    long = "Gluten-free chocolate cake with raspberries"
    fitted = fit(Choices(ChoiceKind.LIST, (Option(long), Option("Tea"))))

    row = fitted.options[0]
    assert row.title == "Gluten-free chocolate…" and row.description == long and row.full_title == long
    assert fitted.options[1].description == ""


def test_titles_the_cut_makes_equal_are_made_unique_and_exact_duplicates_dropped():
    fitted = fit(
        Choices(
            ChoiceKind.BUTTONS,
            (
                Option("Delivery to Lisbon centre"),
                Option("Delivery to Lisbon airport"),
                Option("delivery to lisbon centre"),
            ),
        )
    )

    titles = [o.title for o in fitted.options]
    assert len(titles) == 2 and len(set(titles)) == 2
    assert all(meta_length(t) <= 20 for t in titles)


def test_payloads_are_the_cloud_api_shapes():
    buttons = fit(Choices(ChoiceKind.BUTTONS, (Option("Yes"), Option("No"))))
    assert buttons.payload("Confirm?") == {
        "type": "button",
        "body": {"text": "Confirm?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "choice-1", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "choice-2", "title": "No"}},
            ]
        },
    }
    with pytest.raises(ValueError):
        buttons.payload("x" * 1025)


def test_options_without_titles_offer_nothing():
    assert fit(Choices(ChoiceKind.BUTTONS, (Option("  "),))) is None
