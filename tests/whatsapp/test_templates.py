"""What a template asks for, the send that fills it, and the template webhooks as parsed."""

from __future__ import annotations

import json

import pytest

from shared.whatsapp.parse import parse_delivery
from shared.whatsapp.templates import Template, TemplateError, parse_template_spec

ORDER = Template.from_graph(
    {
        "id": "55",
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "status": "APPROVED",
        "quality_score": {"score": "GREEN"},
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
            {"type": "BODY", "text": "Hello {{1}}, your order is {{2}}."},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://x.test/{{1}}"}]},
        ],
    }
)
VALUES = {"header_1": "A-17", "body_1": "Ana", "body_2": "on its way", "button_0": "A-17"}


def test_the_slots_are_the_header_body_and_url_button_variables_in_order() -> None:
    assert [s.field_name for s in ORDER.slots] == ["header_1", "body_1", "body_2", "button_0"]
    assert ORDER.quality == "GREEN" and ORDER.approved


def test_a_filled_template_is_the_payload_meta_expects_and_previews_as_the_customer_reads_it() -> None:
    message = ORDER.fill(VALUES)

    assert message.payload() == {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "A-17"}]},
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "on its way"}],
            },
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "A-17"}],
            },
        ],
    }
    assert message.text == "Order A-17\nHello Ana, your order is on its way.\nReply STOP to opt out"


def test_a_missing_value_is_refused_with_its_name() -> None:
    with pytest.raises(TemplateError, match=r"Body \{\{2\}\} is empty"):
        ORDER.fill({**VALUES, "body_2": "  "})


def test_the_reengage_setting_is_name_colon_language() -> None:
    assert parse_template_spec("follow_up:en_US") == ("follow_up", "en_US")
    assert parse_template_spec("") is None
    with pytest.raises(TemplateError):
        parse_template_spec("follow_up")


def _envelope(field: str, value: dict) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "200", "changes": [{"field": field, "value": value}]}],
        }
    ).encode()


def test_template_status_and_quality_webhooks_are_parsed_into_events() -> None:
    status = parse_delivery(
        _envelope(
            "message_template_status_update",
            {
                "event": "APPROVED",
                "message_template_id": 55,
                "message_template_name": "order_update",
                "message_template_language": "en_US",
                "reason": "NONE",
            },
        )
    )
    quality = parse_delivery(
        _envelope(
            "message_template_quality_update",
            {
                "previous_quality_score": "GREEN",
                "new_quality_score": "RED",
                "message_template_id": 55,
                "message_template_name": "order_update",
                "message_template_language": "en_US",
            },
        )
    )

    (approved,) = status.template_events
    (rated,) = quality.template_events
    assert (approved.waba_id, approved.template_id, approved.status, approved.quality) == (
        "200",
        "55",
        "APPROVED",
        None,
    )
    assert (rated.status, rated.quality) == (None, "RED")


def test_a_template_webhook_without_a_template_id_is_rejected_not_a_crash() -> None:
    delivery = parse_delivery(_envelope("message_template_status_update", {"event": "APPROVED"}))
    assert delivery.template_events == () and len(delivery.rejected) == 1


def test_pricing_is_parsed_with_every_field() -> None:
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "200",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "metadata": {"phone_number_id": "1"},
                                "statuses": [
                                    {
                                        "id": "wamid.X",
                                        "status": "sent",
                                        "timestamp": "1700000000",
                                        "recipient_id": "15551234567",
                                        "pricing": {
                                            "billable": True,
                                            "pricing_model": "PMP",
                                            "category": "utility",
                                            "type": "regular",
                                        },
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    (status,) = parse_delivery(body).message_changes[0].statuses
    assert status.pricing is not None
    assert status.pricing.as_dict() == {
        "billable": True,
        "category": "utility",
        "pricing_model": "PMP",
        "type": "regular",
    }
