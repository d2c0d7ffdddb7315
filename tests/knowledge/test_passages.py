"""Passages: small enough to embed, whole sentences, each under the headings above it."""

from __future__ import annotations

from shared.knowledge.passages import MAX_PASSAGE_CHARS, split_passages


def test_markdown_sections_keep_the_path_of_their_headings():
    text = "# Opening hours\n\nWe open at nine.\n\n## Holidays\n\nClosed on 25 December.\n\n# Prices\n\nA coffee is 2 EUR."

    passages = split_passages(text)

    assert [(p.heading, p.text) for p in passages] == [
        ("Opening hours", "We open at nine."),
        ("Opening hours › Holidays", "Closed on 25 December."),
        ("Prices", "A coffee is 2 EUR."),
    ]
    assert [p.position for p in passages] == [0, 1, 2]
    assert passages[1].embedded_text == "Opening hours › Holidays\nClosed on 25 December."


def test_plain_text_headings_underlined_capitalised_or_ending_in_a_colon():
    text = "Delivery\n========\nWe deliver in Lisbon.\n\nRETURNS\nThirty days.\n\nPayment:\nCards and cash."

    assert [(p.heading, p.text) for p in split_passages(text)] == [
        ("Delivery", "We deliver in Lisbon."),
        ("Delivery › Returns", "Thirty days."),
        ("Delivery › Returns › Payment", "Cards and cash."),
    ]


def test_lines_of_a_paragraph_are_joined_and_short_paragraphs_packed_together():
    text = "Line one of a paragraph\nline two of it.\n\nA second paragraph."

    (passage,) = split_passages(text)

    assert passage.text == "Line one of a paragraph line two of it.\n\nA second paragraph."


def test_a_long_text_is_cut_between_sentences_and_no_passage_is_too_long():
    sentence = "Our bakery bakes bread with flour from the mill next door every single morning. "
    passages = split_passages("# Bread\n\n" + sentence * 60)

    assert len(passages) > 3
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in passages)
    assert all(p.text.startswith("Our bakery") and p.text.endswith("morning.") for p in passages)
    assert all(p.heading == "Bread" for p in passages)


def test_a_word_longer_than_a_passage_is_cut_where_it_must():
    passages = split_passages("x" * (MAX_PASSAGE_CHARS * 2 + 5))

    assert [len(p.text) for p in passages] == [MAX_PASSAGE_CHARS, MAX_PASSAGE_CHARS, 5]


def test_a_text_without_words_has_no_passages():
    assert split_passages("\n\n   \n# \n") == []
