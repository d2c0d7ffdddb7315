"""What a bubble says for each kind of message document (no cloud needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.dashboard.message_view import message_view


def url(message_id: str, variant: str) -> str:
    return f"/m/{message_id}/{variant}"


def view(data: dict, **kwargs):
    return message_view(
        "wamid.1",
        {"created_at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC), **data},
        customer_name="Kerry",
        media_url=url,
        **kwargs,
    )


def test_a_location_shows_its_place_and_a_map_link_built_from_numbers_only() -> None:
    v = view(
        {
            "direction": "inbound",
            "type": "location",
            "location": {"latitude": 40.4168, "longitude": -3.7038, "name": "Sol", "address": "Madrid"},
        }
    )
    assert v.details == ("Sol", "Madrid", "40.41680, -3.70380")
    assert v.link_url.startswith("https://www.openstreetmap.org/?mlat=40.416800&mlon=-3.703800")
    hostile = view(
        {
            "direction": "inbound",
            "type": "location",
            "location": {"latitude": "javascript:alert(1)", "longitude": 1},
        }
    )
    assert hostile.link_url == ""


def test_contacts_reactions_and_unsupported_messages_are_described() -> None:
    card = {"name": {"formatted_name": "Ana García"}, "phones": [{"phone": "+34 600 000 000"}]}
    assert view({"type": "contacts", "contacts": [card]}).details == ("Ana García · +34 600 000 000",)
    assert view({"type": "reaction", "reaction": {"message_id": "x", "emoji": "👍"}}).details == (
        "reacted 👍",
    )
    assert view({"type": "reaction", "reaction": {"message_id": "x"}}).details == ("removed a reaction",)
    assert "not support" in view({"type": "unsupported", "unsupported": {"type": "poll"}}).details[0]


def test_an_image_shows_the_reencoded_copy_and_offers_the_original() -> None:
    v = view(
        {"type": "image", "media": {"status": "ready", "gcs_uri": "gs://b/o", "derived_uri": "gs://b/d"}}
    )
    assert (v.media.url, v.media.download_url) == ("/m/wamid.1/derived", "/m/wamid.1/original")


def test_failed_media_says_why_and_the_message_can_be_retried() -> None:
    v = view(
        {
            "direction": "inbound",
            "type": "audio",
            "status": "failed",
            "media": {"status": "failed", "failure_reason": "The voice note is longer than 15 minutes"},
        }
    )
    assert v.error.detail == "The voice note is longer than 15 minutes"
    assert v.can_retry and v.final


def test_a_reply_carries_its_ai_details_and_ticks_until_read() -> None:
    reply = {"direction": "outbound", "type": "text", "text": "Hi", "sent_by": "ai", "status": "delivered"}
    ai = {
        "model": "gemini-3.8-flash",
        "input_tokens": 10,
        "output_tokens": 3,
        "thinking_tokens": 48,
        "latency_ms": 812,
        "finish_reason": "STOP",
    }
    v = view(reply, ai_response=ai)
    assert (v.author_label, v.ai.model, v.ai.latency_ms, v.final) == ("AI", "gemini-3.8-flash", 812, False)
    assert v.ai.thinking_tokens == 48
    assert view({**reply, "status": "read"}, ai_response=ai).final


def test_a_failed_reply_can_be_sent_again_once() -> None:
    failed = {
        "direction": "outbound",
        "type": "text",
        "text": "Hi",
        "status": "failed",
        "error": {"code": 131026, "title": "Message undeliverable"},
    }
    v = view(failed)
    assert v.can_retry and v.error.code == "131026"
    assert not view({**failed, "retried_as": "wamid.2"}).can_retry


def test_an_operators_email_is_shown_but_the_local_login_is_just_operator() -> None:
    base = {"direction": "outbound", "sent_by": "operator", "text": "Hi"}
    assert view({**base, "operator": "sam@example.com"}).author_label == "Operator (sam@example.com)"
    assert view({**base, "operator": "operator"}).author_label == "Operator"


def test_the_version_changes_exactly_when_the_bubble_would() -> None:
    reply = {"direction": "outbound", "text": "Hi", "status": "sent"}
    assert view(reply).version == view(dict(reply)).version
    assert view(reply).version != view({**reply, "status": "delivered"}).version


def test_what_the_business_typed_on_its_phone_is_its_own_message_not_the_ai_s_nor_an_operator_s() -> None:
    v = view({"direction": "outbound", "type": "text", "text": "Ana here", "sent_by": "business_app"})
    assert (v.author, v.author_label) == ("business_app", "Business app")


def test_a_message_deleted_by_its_sender_stays_and_says_so() -> None:
    v = view({"direction": "inbound", "type": "text", "text": "oops", "revoked": True})
    assert v.text == "oops" and v.details[0] == "deleted for everyone by its sender"
