"""Parsing Meta's webhook bodies (fixtures written from the WhatsApp reference) into typed models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.whatsapp.models import (
    AudioMessage,
    ButtonMessage,
    ContactsMessage,
    DeliveryStatus,
    DocumentMessage,
    ImageMessage,
    InteractiveMessage,
    LocationMessage,
    MessageType,
    ReactionMessage,
    StickerMessage,
    SystemMessage,
    TextMessage,
    UnsupportedMessage,
    VideoMessage,
)
from shared.whatsapp.parse import MalformedDelivery, parse_delivery
from tests.support.payloads import load


def only_message(name: str):
    (value,) = parse_delivery(load(name)).message_changes
    (message,) = value.messages
    return message


def test_text_message_keeps_unicode_and_sender_details() -> None:
    delivery = parse_delivery(load("text"))
    (value,) = delivery.message_changes
    message = value.messages[0]
    assert isinstance(message, TextMessage)
    assert message.text == "Hello! ¿Tienen envío a Madrid? 🚚"
    assert message.sender == "16505551234"
    assert message.timestamp == datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)
    assert value.phone_number_id == "106540352242922"
    assert value.contact_names == {"16505551234": "Kerry Fisher"}
    assert delivery.rejected == ()


def test_reply_context_points_at_the_quoted_message() -> None:
    message = only_message("text_reply")
    assert message.reply_to == "wamid.OUTBOUND1"
    assert not message.forwarded


@pytest.mark.parametrize("name", ["text_forwarded", "text_frequently_forwarded"])
def test_forwarded_flag_is_set_for_both_forward_kinds(name: str) -> None:
    message = only_message(name)
    assert message.forwarded
    assert message.reply_to is None


@pytest.mark.parametrize(
    ("name", "cls", "caption"),
    [
        ("image", ImageMessage, "My receipt"),
        ("video", VideoMessage, "Noisy machine"),
        ("document", DocumentMessage, "Invoice"),
        ("sticker", StickerMessage, ""),
        ("audio_file", AudioMessage, ""),
    ],
)
def test_media_messages_carry_their_media_reference(name: str, cls: type, caption: str) -> None:
    message = only_message(name)
    assert isinstance(message, cls)
    assert message.media.id
    assert message.media.sha256 == "DP0SgnEKR+zNLxWhCfv8fBJdpu2KoEV4bsBw+vzANJk="
    assert message.text == caption


def test_image_url_from_the_webhook_is_kept_when_present() -> None:
    assert only_message("image").media.url.startswith("https://lookaside.fbsbx.com/")
    assert only_message("video").media.url is None


def test_voice_note_is_told_apart_from_an_audio_file() -> None:
    voice = only_message("audio_voice")
    assert voice.media.voice is True
    assert voice.media.mime_type == "audio/ogg; codecs=opus"
    assert only_message("audio_file").media.voice is False


def test_document_keeps_its_filename_and_sticker_its_animation() -> None:
    assert only_message("document").media.filename == "invoice-2026.pdf"
    assert only_message("sticker").media.animated is True


def test_location_has_coordinates_name_and_address() -> None:
    message = only_message("location")
    assert isinstance(message, LocationMessage)
    assert (message.location.latitude, message.location.longitude) == (37.483307, -122.148981)
    assert message.location.name == "Philz Coffee"
    assert message.location.address.startswith("101 Forest Ave")


def test_shared_contacts_are_kept_as_meta_sends_them() -> None:
    message = only_message("contacts")
    assert isinstance(message, ContactsMessage)
    (card,) = message.contacts
    assert card["name"]["formatted_name"] == "Barbara Johnson"
    assert card["phones"][0]["wa_id"] == "19405551234"


def test_button_and_list_replies_read_as_their_titles() -> None:
    button = only_message("interactive_button_reply")
    assert isinstance(button, InteractiveMessage)
    assert (button.reply.type, button.reply.id, button.text) == ("button_reply", "yes-please", "Yes, please")
    listed = only_message("interactive_list_reply")
    assert (listed.reply.type, listed.text, listed.reply.description) == (
        "list_reply",
        "Medium",
        "Fits 38-40",
    )
    assert listed.reply_to == "wamid.OUTBOUND3"


def test_template_quick_reply_button() -> None:
    message = only_message("button")
    assert isinstance(message, ButtonMessage)
    assert (message.button.text, message.button.payload) == ("Stop promotions", "STOP_PROMOS")


def test_reaction_and_its_removal() -> None:
    added = only_message("reaction")
    assert isinstance(added, ReactionMessage)
    assert added.reaction.emoji == "👍" and not added.reaction.removed
    removed = only_message("reaction_removed")
    assert removed.reaction.emoji is None and removed.reaction.removed
    assert removed.reaction.message_id == "wamid.OUTBOUND1"


def test_unsupported_message_keeps_its_kind_and_error() -> None:
    message = only_message("unsupported")
    assert isinstance(message, UnsupportedMessage)
    assert message.unsupported_type == "poll_creation"
    assert message.errors[0].code == 131051


def test_unknown_message_type_is_unsupported_not_a_crash() -> None:
    message = only_message("unknown_type")
    assert message.type is MessageType.UNSUPPORTED
    assert message.unsupported_type == "order"


def test_system_message_without_contacts() -> None:
    delivery = parse_delivery(load("system"))
    (value,) = delivery.message_changes
    message = value.messages[0]
    assert isinstance(message, SystemMessage)
    assert message.system.type == "user_changed_number"
    assert message.system.wa_id == "16505559999"
    assert value.contact_names == {}


def test_batch_keeps_every_message_in_order() -> None:
    (value,) = parse_delivery(load("batch")).message_changes
    assert [m.wamid for m in value.messages] == ["wamid.BATCH1", "wamid.BATCH2", "wamid.BATCH3"]
    assert [m.type for m in value.messages] == [MessageType.TEXT, MessageType.TEXT, MessageType.IMAGE]


def test_message_and_status_in_one_delivery() -> None:
    (value,) = parse_delivery(load("message_and_statuses")).message_changes
    assert [m.wamid for m in value.messages] == ["wamid.MIXED1"]
    (status,) = value.statuses
    assert (status.wamid, status.status, status.pricing_category) == (
        "wamid.OUT100",
        DeliveryStatus.DELIVERED,
        "service",
    )


def test_statuses_out_of_order_are_all_parsed_with_their_times() -> None:
    (value,) = parse_delivery(load("statuses_out_of_order")).message_changes
    assert [s.status for s in value.statuses] == [
        DeliveryStatus.READ,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.SENT,
    ]
    assert value.statuses[0].timestamp > value.statuses[2].timestamp


def test_failed_status_keeps_its_error_code_and_title() -> None:
    (value,) = parse_delivery(load("status_failed")).message_changes
    (status,) = value.statuses
    assert status.status is DeliveryStatus.FAILED
    assert (status.errors[0].code, status.errors[0].title) == (131047, "Re-engagement message")
    assert "24 hours" in status.errors[0].details


def test_value_level_errors() -> None:
    (value,) = parse_delivery(load("value_errors")).message_changes
    assert value.messages == () and value.statuses == ()
    assert value.errors[0].code == 130429


def test_a_field_other_than_messages_is_acknowledged_and_ignored() -> None:
    delivery = parse_delivery(load("non_message_field"))
    assert delivery.entries[0].changes[0].field == "account_update"
    assert delivery.message_changes == ()
    assert delivery.rejected == ()


@pytest.mark.parametrize(
    ("name", "path", "reason"),
    [
        ("malformed_missing_id", "entry[0].changes[0].value.messages[0].id", "is missing"),
        (
            "malformed_wrong_types",
            "entry[0].changes[0].value.messages[0].location.latitude",
            "expected a number",
        ),
    ],
)
def test_a_bad_message_is_rejected_with_the_path_that_was_wrong(name: str, path: str, reason: str) -> None:
    delivery = parse_delivery(load(name))
    (rejected,) = delivery.rejected
    assert rejected.path == path
    assert reason in rejected.reason
    assert delivery.message_changes[0].messages == ()


def test_in_a_batch_only_the_bad_message_is_rejected() -> None:
    delivery = parse_delivery(load("malformed_batch_one_bad"))
    assert [m.wamid for m in delivery.message_changes[0].messages] == ["wamid.GOOD1", "wamid.GOOD2"]
    (rejected,) = delivery.rejected
    assert rejected.path == "entry[0].changes[0].value.messages[1].id"
    assert rejected.raw["text"]["body"] == "missing id"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (load("malformed_not_json.txt"), "not valid JSON"),
        (load("malformed_entry_not_list"), "expected an array"),
        (b'{"object": "page", "entry": []}', "whatsapp_business_account"),
        (b"[1, 2]", "expected an object"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_an_unusable_envelope_raises_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedDelivery, match=reason):
        parse_delivery(body)
