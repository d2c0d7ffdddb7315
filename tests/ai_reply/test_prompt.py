"""What the model is told: messages rendered as text, history bounded, turns in order."""

from __future__ import annotations

from shared.ai_reply.prompt import bound_history, build_contents, describe


def inbound(text: str = "", **fields) -> dict:
    return {"direction": "inbound", "type": "text", "text": text, **fields}


def outbound(text: str) -> dict:
    return {"direction": "outbound", "type": "text", "text": text}


def texts(content) -> list[str]:
    return [p.text for p in content.parts]


def test_location_reads_as_coordinates_and_name() -> None:
    message = inbound(
        "Philz Coffee",
        type="location",
        location={
            "latitude": 37.48,
            "longitude": -122.14,
            "name": "Philz Coffee",
            "address": "101 Forest Ave",
        },
    )
    assert describe(message) == "[Shared a location: Philz Coffee, 101 Forest Ave (37.48, -122.14)]"


def test_shared_contacts_read_as_names_and_numbers() -> None:
    message = inbound(
        type="contacts",
        contacts=[
            {"name": {"formatted_name": "Barbara Johnson"}, "phones": [{"phone": "+1 940 555 1234"}]},
            {"name": {"formatted_name": "Ali"}, "phones": []},
        ],
    )
    assert describe(message) == "[Shared contacts: Barbara Johnson (+1 940 555 1234); Ali]"


def test_button_and_list_replies_read_as_their_titles() -> None:
    assert describe(inbound("Yes, please", type="interactive")) == "[Tapped: Yes, please]"
    assert describe(inbound("Stop promotions", type="button")) == "[Tapped: Stop promotions]"


def test_media_is_described_by_type_and_caption_until_its_content_is_attached() -> None:
    photo = inbound("My receipt", type="image", media={"mime_type": "image/jpeg"})
    assert describe(photo) == "[Sent a image] My receipt"
    voice = inbound(type="audio", media={"voice": True})
    assert describe(voice) == "[Sent a voice note]"
    pdf = inbound(type="document", media={"filename": "invoice.pdf", "mime_type": "application/pdf"})
    assert describe(pdf) == "[Sent a document named 'invoice.pdf' (application/pdf)]"


def test_media_that_failed_says_why() -> None:
    photo = inbound(
        type="image", media={"status": "failed", "failure_reason": "The photo is larger than 5 MB"}
    )
    assert "could not be opened: The photo is larger than 5 MB" in describe(photo)


def test_a_reply_to_quotes_the_message_it_answers() -> None:
    burst = [inbound("Yes that one", reply_to="wamid.A")]
    (turn,) = build_contents([], burst, {"wamid.A": "We have the blue or the red model."})
    assert texts(turn) == ['(replying to: "We have the blue or the red model.")\nYes that one']


def test_history_alternates_roles_and_the_burst_is_the_last_user_turn() -> None:
    history = [inbound("hi"), outbound("Hello! How can I help?"), inbound("price?"), outbound("10 EUR")]
    burst = [inbound("ok"), inbound("and shipping?")]
    turns = build_contents(history, burst, {})
    assert [t.role for t in turns] == ["user", "model", "user", "model", "user"]
    assert texts(turns[-1]) == ["ok", "and shipping?"]


def test_history_never_starts_with_the_model() -> None:
    turns = build_contents([outbound("Welcome!")], [inbound("hi")], {})
    assert [t.role for t in turns] == ["user"]


def test_history_is_bounded_by_turns_and_size() -> None:
    history = [inbound(f"message {i} " + "x" * 100) for i in range(30)]
    assert len(bound_history(history, max_turns=5, max_chars=10_000)) == 5
    kept = bound_history(history, max_turns=30, max_chars=350)
    assert len(kept) == 3
    assert kept[-1] is history[-1]


def test_media_parts_are_sent_only_for_the_new_messages() -> None:
    from google.genai import types

    photo_then = inbound("old photo", type="image", id="a")
    photo_now = inbound("new photo", type="image", id="b")

    def parts(message):
        return [types.Part.from_bytes(data=message["id"].encode(), mime_type="image/jpeg")]

    turns = build_contents([photo_then, outbound("nice")], [photo_now], {}, parts)
    assert [p.inline_data is not None for p in turns[0].parts] == [False]
    assert [p.inline_data is not None for p in turns[-1].parts] == [True, False]
