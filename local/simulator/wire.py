"""Meta's WhatsApp Cloud API wire formats, as the simulator produces them.

Pure functions only (no I/O), so the shapes are easy to read side by side with Meta's Cloud API
reference and to reuse in tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# Message types whose content is a media object (by ``id`` or ``link``), and the states of a status webhook.
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
STATUS_STATES = frozenset({"sent", "delivered", "read", "played", "failed"})


@dataclass(frozen=True)
class GraphError:
    """How Meta answers one error code: HTTP status, message (with the ``(#code)`` prefix) and details."""

    http_status: int
    message: str
    details: str


# Meta's error-code table (support/error-codes); the HTTP status is the one Meta lists for the code.
GRAPH_ERRORS: dict[int, GraphError] = {
    0: GraphError(401, "(#0) AuthException", "We were unable to authenticate the app user."),
    1: GraphError(500, "(#1) An unknown error occurred", "Invalid request or possible server error."),
    2: GraphError(503, "(#2) Service temporarily unavailable", "Temporary due to downtime or overload."),
    4: GraphError(
        400, "(#4) Application request limit reached", "The app has reached its API call rate limit."
    ),
    10: GraphError(403, "(#10) Application does not have permission for this action", "Permission denied."),
    100: GraphError(400, "(#100) Invalid parameter", "Invalid parameter."),
    190: GraphError(
        401, "Invalid OAuth access token - Cannot parse access token", "Access token has expired."
    ),
    368: GraphError(403, "(#368) Temporarily blocked for policies violations", "Account restricted."),
    80007: GraphError(
        400, "(#80007) Rate limit issues", "The WhatsApp Business Account reached its rate limit."
    ),
    130429: GraphError(400, "(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    130472: GraphError(400, "(#130472) User's number is part of an experiment", "Experiment."),
    131000: GraphError(
        500, "(#131000) Something went wrong", "Message failed to send due to an unknown error."
    ),
    131005: GraphError(
        403, "(#131005) Access denied", "Permission is either not granted or has been removed."
    ),
    131008: GraphError(400, "(#131008) Required parameter is missing", "The request is missing a parameter."),
    131009: GraphError(400, "(#131009) Parameter value is not valid", "A parameter value is not valid."),
    131016: GraphError(503, "(#131016) Service unavailable", "A service is temporarily unavailable."),
    131026: GraphError(400, "(#131026) Message undeliverable", "Unable to deliver message."),
    131030: GraphError(
        400, "(#131030) Recipient phone number not in allowed list", "Add it to the allow list."
    ),
    131031: GraphError(403, "(#131031) Business Account locked", "The business account is locked."),
    131047: GraphError(
        400,
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied "
        "to this number.",
    ),
    131048: GraphError(400, "(#131048) Spam rate limit hit", "Too many messages were flagged as spam."),
    131049: GraphError(
        400,
        "(#131049) This message was not delivered to maintain healthy ecosystem engagement.",
        "Meta chose not to deliver this message.",
    ),
    131050: GraphError(400, "(#131050) User has stopped marketing messages", "Marketing opt-out."),
    131051: GraphError(400, "(#131051) Unsupported message type", "Message type is not currently supported."),
    131052: GraphError(
        400, "(#131052) Media download error", "Unable to download the media sent by the user."
    ),
    131053: GraphError(
        400, "(#131053) Media upload error", "Unable to upload the media used in the message."
    ),
    131056: GraphError(
        400,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient in a short period.",
    ),
    132000: GraphError(
        400,
        "(#132000) Number of parameters does not match the expected number of params",
        "The number of variable parameter values does not match the template.",
    ),
    132001: GraphError(400, "(#132001) Template name does not exist in the translation", "No such template."),
    132015: GraphError(400, "(#132015) Template is Paused", "The template is paused for low quality."),
    132018: GraphError(
        400, "(#132018) There was an issue with the parameters in your template", "Bad parameter."
    ),
    131057: GraphError(
        500, "(#131057) Account in maintenance mode", "The business account is in maintenance."
    ),
    131062: GraphError(
        400,
        "(#131062) Business-scoped user ID not supported",
        "This message type cannot be sent to a business-scoped user ID; use the phone number.",
    ),
}


def graph_error(code: int) -> GraphError:
    """The table entry for ``code``; unknown codes read as a generic 400 so a test can use any number."""
    return GRAPH_ERRORS.get(code, GraphError(400, f"(#{code}) Error", "Simulated error."))


def new_fbtrace_id() -> str:
    return base64.b64encode(secrets.token_bytes(8)).decode().rstrip("=").replace("/", "_").replace("+", "-")


def graph_error_body(code: int, message: str | None = None, details: str | None = None) -> dict[str, Any]:
    """The JSON body of a failed Graph call, e.g. ``{"error": {"code": 131047, ...}}``."""
    spec = graph_error(code)
    error: dict[str, Any] = {
        "message": message or spec.message,
        "type": "OAuthException",
        "code": code,
    }
    if code != 190:  # Meta sends no error_data with token errors
        error["error_data"] = {"messaging_product": "whatsapp", "details": details or spec.details}
    error["fbtrace_id"] = new_fbtrace_id()
    return {"error": error}


def unknown_object_body(object_id: str, method: str) -> dict[str, Any]:
    """Meta's answer when the path names an object that does not exist (wrong phone number or media id)."""
    return {
        "error": {
            "message": (
                f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation. Please read the "
                "Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
            "fbtrace_id": new_fbtrace_id(),
        }
    }


def webhook_error(code: int, details: str | None = None) -> dict[str, Any]:
    """An error as it appears inside a webhook (``statuses[].errors[]``, ``messages[].errors[]``)."""
    spec = graph_error(code)
    title = spec.message.split(") ", 1)[-1]
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or spec.details},
        "href": ERROR_HREF,
    }


def _wamid_payload(wa_id: str, inbound: bool) -> bytes:
    # Real wamids are base64 of a small protobuf holding the user's number and a hex message key.
    number = wa_id.encode()[:60]
    key = secrets.token_hex(10).upper().encode()
    direction = b"\x12" if inbound else b"\x11"
    return (
        b"\x1c\x18"
        + bytes([len(number)])
        + number
        + b"\x15\x02\x00"
        + direction
        + b"\x18\x14"
        + key
        + b"\x00"
    )


def new_wamid(wa_id: str, inbound: bool) -> str:
    """A fresh, unique ``wamid.<base64>`` id; never contains ``/`` or ``+`` (they break Firestore ids and URLs)."""
    while True:
        token = base64.b64encode(_wamid_payload(wa_id, inbound)).decode()
        if "/" not in token and "+" not in token:
            return "wamid." + token


def new_media_id() -> str:
    """Media ids are long decimal strings at Meta."""
    return str(secrets.randbelow(9 * 10**15) + 10**15)


def sha256_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def encode_body(payload: Any, escape_non_ascii: bool = True) -> bytes:
    """Serialize like Meta: compact JSON, non-ASCII escaped as \\uXXXX (so re-dumped JSON would not match)."""
    return json.dumps(payload, ensure_ascii=escape_non_ascii, separators=(",", ":")).encode()


def envelope(
    waba_id: str, display_phone_number: str, phone_number_id: str, field: str = "messages", **value: Any
) -> dict[str, Any]:
    """The webhook envelope of `field`; ``value`` holds its lists (``contacts``/``messages``/
    ``statuses``/``errors``, ``message_echoes``, ``history``)."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
    }
    body.update({key: items for key, items in value.items() if items is not None})
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": body, "field": field}]}],
    }


def contact(wa_id: str, name: str) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": wa_id}


def pricing(category: str = "service", *, billable: bool = True) -> dict[str, Any]:
    """What Meta billed for one message under per-message pricing (PMP).

    Since 1 October 2026 service messages (free-form replies inside the window) are billed per
    message, like templates; before, they were `free_customer_service`.
    """
    return {
        "billable": billable,
        "pricing_model": "PMP",
        "category": category,
        "type": "regular" if billable else "free_customer_service",
    }


def status(
    wamid: str,
    state: str,
    recipient_id: str,
    timestamp: int,
    with_pricing: dict[str, Any] | None = None,
    errors: list[dict[str, Any]] | None = None,
    callback_data: str | None = None,
) -> dict[str, Any]:
    """One ``statuses[]`` item."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": str(timestamp),
        "recipient_id": recipient_id,
    }
    if with_pricing:
        item["pricing"] = with_pricing
    if errors:
        item["errors"] = errors
    if callback_data:
        item["biz_opaque_callback_data"] = callback_data  # echoed from the send request
    return item


def send_success(to: str, wa_id: str, wamid: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": wa_id}],
        "messages": [{"id": wamid}],
    }
