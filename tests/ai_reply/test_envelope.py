"""Reading the model's JSON envelope, and what a customer still gets when it is not one."""

from __future__ import annotations

from shared.ai_reply.envelope import read_envelope
from shared.whatsapp.interactive import ChoiceKind


def test_a_full_envelope():
    read = read_envelope(
        '{"text": "Which size?", "choices": {"kind": "list", "button": "Sizes", "options": [{"title": "S"}, {"title": "M", "description": "Medium"}]},'
        ' "handoff": {"reason": "  upset  customer "}, "sources": [1, 3, true, "2"]}'
    )

    assert read.parsed and read.text == "Which size?"
    assert read.choices.kind is ChoiceKind.LIST and [o.title for o in read.choices.options] == ["S", "M"]
    assert read.handoff_reason == "upset customer"
    assert read.sources == (1, 3)


def test_a_cut_off_envelope_keeps_its_text():
    read = read_envelope('{"text": "We open at nine.\\nSee you!", "choices": {"kind": "butt')

    assert not read.parsed and read.error.startswith("not JSON")
    assert read.text == "We open at nine.\nSee you!"


def test_an_answer_that_is_not_json_is_sent_as_it_is():
    read = read_envelope("Hello! How can I help?")

    assert read.text == "Hello! How can I help?" and read.error


def test_json_in_a_code_fence_is_read():
    assert read_envelope('```json\n{"text": "Hi"}\n```').text == "Hi"


def test_json_without_text_gives_nothing_to_send():
    read = read_envelope('{"answer": "Hi"}')

    assert read.text == "" and read.error == "JSON without a text field"
