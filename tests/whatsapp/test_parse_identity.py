"""Parsing the 2026 shapes: business-scoped user ids (BSUIDs) and usernames, phone-less users,
statuses by BSUID, identity changes, and Coexistence's echoes, history and contact sync."""

from __future__ import annotations

import json

import pytest

from shared.whatsapp.models import ChangeField, SystemMessage, SystemType, TextMessage, UnsupportedMessage
from shared.whatsapp.parse import parse_delivery
from tests.support.payloads import load


def only_value(name: str):
    (value,) = parse_delivery(load(name)).message_changes
    return value


def test_a_message_with_phone_and_bsuid_keeps_both_and_is_keyed_by_the_phone() -> None:
    value = only_value("bsuid_with_phone")
    (message,) = value.messages
    assert isinstance(message, TextMessage)
    assert (message.user.wa_id, message.user.user_id, message.user.name) == (
        "919810218674",
        "IN.1410018717833190",
        "Krish",
    )
    assert message.sender == "919810218674"
    assert value.contact_names == {"919810218674": "Krish"}


def test_a_phone_less_message_is_keyed_by_its_bsuid_with_the_username_from_its_contact() -> None:
    value = only_value("bsuid_only_username")
    (message,) = value.messages
    assert message.user.wa_id is None
    assert message.user.user_id == message.sender == "US.13491208655302741918"
    assert message.user.parent_user_id == "US.ENT.118157002945113"
    assert (message.user.username, message.user.name) == ("maya.bakes", "Maya")
    assert parse_delivery(load("bsuid_only_username")).rejected == ()


def test_a_message_with_neither_phone_nor_bsuid_is_rejected_and_its_neighbours_kept() -> None:
    body = json.loads(load("bsuid_only_username"))
    messages = body["entry"][0]["changes"][0]["value"]["messages"]
    nobody = {k: v for k, v in messages[0].items() if k not in ("from_user_id", "from_parent_user_id")}
    messages.append({**nobody, "id": "wamid.nobody"})
    delivery = parse_delivery(json.dumps(body).encode())
    (rejected,) = delivery.rejected
    assert rejected.path == "entry[0].changes[0].value.messages[1].from"
    assert "from_user_id" in rejected.reason
    assert len(delivery.message_changes[0].messages) == 1


def test_a_malformed_bsuid_is_rejected_before_it_could_become_a_document_id() -> None:
    body = json.loads(load("bsuid_only_username"))
    body["entry"][0]["changes"][0]["value"]["messages"][0]["from_user_id"] = "US.1/../../x"
    (rejected,) = parse_delivery(json.dumps(body).encode()).rejected
    assert rejected.path.endswith("messages[0].from_user_id")


def test_a_status_with_only_the_bsuid_names_its_recipient_by_it() -> None:
    (status,) = only_value("status_user_id_only").statuses
    assert status.recipient_id is None
    assert status.recipient_user_id == status.recipient == "US.13491208655302741918"


@pytest.mark.parametrize(
    ("fixture", "kind", "new_phone", "new_user_id"),
    [
        (
            "system_user_changed_number",
            SystemType.USER_CHANGED_NUMBER,
            "16505559876",
            "US.22817364550198273645",
        ),
        ("system_user_changed_user_id", SystemType.USER_CHANGED_USER_ID, None, "US.22817364550198273645"),
    ],
)
def test_identity_changes_carry_the_new_and_previous_ids(fixture, kind, new_phone, new_user_id) -> None:
    (message,) = only_value(fixture).messages
    assert isinstance(message, SystemMessage) and message.system.changes_identity
    assert message.system.type == kind
    assert (message.system.wa_id, message.system.user_id) == (new_phone, new_user_id)
    assert message.system.previous_user_id == "US.13491208655302741918"


def test_an_echo_is_the_business_apps_message_to_the_user_it_names() -> None:
    value = only_value("echo_text")
    assert value.field is ChangeField.ECHOES and value.messages == ()
    (echo,) = value.echoes
    assert echo.message.user.wa_id == "16505551234"
    assert echo.message.text.startswith("Hi Maya")


def test_a_history_batch_is_every_threads_messages_in_order_with_who_sent_each() -> None:
    value = only_value("history_batch")
    assert value.field is ChangeField.HISTORY
    assert [(h.message.wamid, h.from_business, h.message.sender) for h in value.history] == [
        ("wamid.HISTORY-BIZ-1", True, "16505551234"),
        ("wamid.HISTORY-BIZ-2", True, "16505551234"),
        ("wamid.HISTORY-USER-1", False, "16505551234"),
        ("wamid.HISTORY-BIZ-3", True, "12125557890"),
    ]
    placeholder = value.history[1].message
    assert isinstance(placeholder, UnsupportedMessage) and placeholder.unsupported_type == "media_placeholder"
    assert value.history[0].status == "READ"


def test_declined_history_sharing_is_reported_as_an_error() -> None:
    body = json.loads(load("history_batch"))
    body["entry"][0]["changes"][0]["value"]["history"] = [
        {"errors": [{"code": 2593109, "title": "History sync is turned off by the business"}]}
    ]
    (value,) = parse_delivery(json.dumps(body).encode()).message_changes
    assert [e.code for e in value.errors] == [2593109] and value.history == ()


def test_app_state_sync_lists_each_contacts_name_and_number() -> None:
    value = only_value("app_state_sync")
    assert [(u.wa_id, u.name, u.action) for u in value.contact_updates] == [
        ("16505551234", "Maya Baker", "add"),
        ("12125557890", "Jo", "edit"),
    ]
