"""WAHA's webhook events read into the models a Cloud API delivery is read into."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.whatsapp.models import (
    AudioMessage,
    ContactsMessage,
    DeliveryStatus,
    DocumentMessage,
    ImageMessage,
    LocationMessage,
    ReactionMessage,
    TextMessage,
)
from shared.whatsapp.parse import MalformedDelivery
from shared.whatsapp.waha.parse import chat_id_of, chat_user, parse_waha_delivery
from tests.support.payloads import WAHA_SESSIONS, load_waha

CUSTOMER = "15551234567"


def parse(name: str):
    return parse_waha_delivery(load_waha(name), WAHA_SESSIONS)


def test_a_text_message_is_an_inbound_text_of_the_sessions_business_number() -> None:
    delivery = parse("message_text")
    value = delivery.value
    assert (value.phone_number_id, value.display_phone_number) == ("waha-default", "15550009999")
    (message,) = value.messages
    assert isinstance(message, TextMessage)
    assert message.wamid == "false_15551234567@c.us_3EB0A1B2C3D4E5F60718"
    assert (message.sender, message.text) == (CUSTOMER, "Hello! ¿Tienen pan sin gluten?")
    assert message.timestamp == datetime.fromtimestamp(1796300000, UTC)
    assert value.contact_names == {CUSTOMER: "Kerry Fisher"}
    assert (delivery.ignored, delivery.rejected, value.statuses) == ("", (), ())


def test_a_reply_quotes_the_full_id_of_the_business_message_it_answers() -> None:
    (message,) = parse("message_reply").value.messages
    # WEBJS quotes the short id; the participant (the business) says it was one of ours.
    assert message.reply_to == "true_15551234567@c.us_3EB0FFEEDDCCBBAA0001"


@pytest.mark.parametrize(
    ("name", "kind", "mime", "caption"),
    [
        ("message_image", ImageMessage, "image/jpeg", "Is this cake available?"),
        ("message_voice", AudioMessage, "audio/ogg; codecs=opus", ""),
        ("message_document", DocumentMessage, "application/pdf", "our order"),
    ],
)
def test_media_carries_waha_s_file_url_and_caption(name, kind, mime, caption) -> None:
    (message,) = parse(name).value.messages
    assert isinstance(message, kind)
    assert message.media.url.startswith("http://waha.local:3000/api/files/default/")
    assert message.media.id == message.wamid  # WAHA has no media ids
    assert (message.media.mime_type, message.text, message.media.sha256) == (mime, caption, "")
    assert message.media.voice is (name == "message_voice")


def test_media_waha_did_not_download_has_no_url() -> None:
    (message,) = parse("message_media_not_downloaded").value.messages
    assert isinstance(message, ImageMessage) and message.media.url is None


def test_a_location_and_a_vcard_read_like_the_cloud_api_s() -> None:
    (location,) = parse("message_location").value.messages
    assert isinstance(location, LocationMessage)
    assert (location.location.latitude, location.location.longitude) == (38.7223, -9.1393)
    assert location.location.name == "Praça do Comércio"
    (contacts,) = parse("message_vcard").value.messages
    assert isinstance(contacts, ContactsMessage)
    (card,) = contacts.contacts
    assert card["name"] == {"formatted_name": "Ana Lopez"}
    assert card["phones"] == [{"phone": "+1 555-765-4321", "wa_id": "15557654321"}]
    assert card["vcard"].startswith("BEGIN:VCARD")


def test_a_hidden_number_is_kept_as_an_id_without_a_phone() -> None:
    (message,) = parse("message_lid").value.messages
    assert message.sender == "lid.201234567890123"
    assert chat_id_of(message.sender) == "201234567890123@lid"


@pytest.mark.parametrize(
    ("name", "chat"),
    [
        ("message_group", "group"),
        ("message_status_broadcast", "broadcast"),
        ("message_newsletter", "newsletter"),
    ],
)
def test_group_broadcast_and_newsletter_chats_are_ignored(name, chat) -> None:
    delivery = parse(name)
    assert (delivery.ignored_chat, delivery.value.messages, delivery.rejected) == (chat, (), ())
    assert delivery.ignored


def test_the_business_typing_on_its_phone_is_an_echo_never_an_inbound_message() -> None:
    delivery = parse("message_any_from_me_app")
    assert delivery.value.messages == ()
    (echo,) = delivery.echoes
    assert (echo.message.user.wa_id, echo.message.text, echo.message.wamid) == (
        CUSTOMER,
        "I'll bring it over myself, Kerry!",
        "true_15551234567@c.us_3EB0C0FFEE0000000001",
    )


def test_our_own_api_sends_are_neither_answered_nor_echoes() -> None:
    delivery = parse("message_any_from_me_api")
    assert (delivery.value.messages, delivery.echoes) == ((), ())
    assert delivery.ignored


def test_message_any_of_the_customer_is_the_same_inbound_message_as_message() -> None:
    assert parse("message_any_from_customer").value.messages == parse("message_text").value.messages


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("ack_error", DeliveryStatus.FAILED),
        ("ack_pending", DeliveryStatus.ACCEPTED),
        ("ack_server", DeliveryStatus.SENT),
        ("ack_device", DeliveryStatus.DELIVERED),
        ("ack_read", DeliveryStatus.READ),
        ("ack_played", DeliveryStatus.PLAYED),
    ],
)
def test_acks_map_to_our_statuses_for_the_recipient(name, status) -> None:
    (update,) = parse(name).value.statuses
    assert (update.wamid, update.status, update.recipient_id) == (
        "true_15551234567@c.us_3EB0C0FFEE0000000002",
        status,
        CUSTOMER,
    )
    assert update.timestamp == datetime.fromtimestamp(1796300000.123, UTC)
    assert bool(update.errors) is (status is DeliveryStatus.FAILED)


def test_acks_of_the_customer_s_messages_are_ignored() -> None:
    delivery = parse("ack_of_customer_message")
    assert delivery.value.statuses == () and delivery.ignored


def test_reactions_and_their_removal_are_reaction_messages() -> None:
    (added,) = parse("reaction").value.messages
    (removed,) = parse("reaction_removed").value.messages
    assert isinstance(added, ReactionMessage) and isinstance(removed, ReactionMessage)
    assert added.reaction.message_id == "true_15551234567@c.us_3EB0C0FFEE0000000002"
    assert (added.reaction.emoji, removed.reaction.removed) == ("🙏", True)


def test_a_revoked_message_names_the_original() -> None:
    (revoked,) = parse("revoked").revoked
    assert (revoked.wamid, revoked.customer) == ("false_15551234567@c.us_3EB0A1B2C3D4E5F60718", CUSTOMER)


def test_session_status_is_ignored_with_the_status_kept() -> None:
    delivery = parse("session_status")
    assert (delivery.session_status, delivery.value.messages) == ("SCAN_QR_CODE", ())


def test_an_unknown_session_is_a_malformed_delivery() -> None:
    with pytest.raises(MalformedDelivery, match="someone-else"):
        parse("message_unknown_session")


def test_a_payload_that_cannot_be_read_is_rejected_with_its_path() -> None:
    delivery = parse("message_bad_chat_id")
    (rejected,) = delivery.rejected
    assert rejected.path == "payload.from"
    assert delivery.value.messages == ()


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"event":"message"}', b'{"session":"default"}'])
def test_an_envelope_that_cannot_be_read_is_malformed(body) -> None:
    with pytest.raises(MalformedDelivery):
        parse_waha_delivery(body, WAHA_SESSIONS)


@pytest.mark.parametrize(
    ("chat", "user"),
    [("15551234567@c.us", "15551234567"), ("15551234567@s.whatsapp.net", "15551234567"), ("9:3@c.us", "9")],
)
def test_chat_ids_of_people(chat, user) -> None:
    assert chat_user(chat, "from") == user
