"""The Graph API's ``POST /{phone_number_id}/messages``: sends, mark-read and the typing indicator.

A send is checked as Meta checks it (recipient, type, required fields, text length, the 24 h
customer-service window when enforced), answered at once with a new wamid, recorded in the outbox,
and its fate reported later by status webhooks. Errors carry Meta's codes and bodies, so the client's
retry decisions are tested against the answers Meta gives.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from local.simulator import wire
from local.simulator.identities import Identities
from local.simulator.interactive import INVALID_PARAMETER, interactive_problem
from local.simulator.media import MediaHost
from local.simulator.state import SimulatorState, digits
from local.simulator.statuses import StatusUpdates
from local.simulator.templates import TemplateCatalog
from local.simulator.wire import MEDIA_TYPES, Json

MAX_TEXT_CHARS = 4096
TYPING_SECONDS = 25.0  # Meta hides the typing indicator after 25 s or when the reply arrives
SERVICE_WINDOW_SECONDS = 24 * 3600
SENDABLE_TYPES = frozenset(
    {"text", "reaction", "location", "contacts", "interactive", "template", *MEDIA_TYPES}
)


class GraphBehaviour:
    """What Meta does with the business's message calls."""

    def __init__(
        self, state: SimulatorState, media: MediaHost, statuses: StatusUpdates, templates: TemplateCatalog
    ) -> None:
        self._state = state
        self._media = media
        self._statuses = statuses
        self._templates = templates

    def token_ok(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            token.strip(), self._state.config.access_token
        )

    def post_messages(self, phone_number_id: str, body: Any) -> tuple[int, Json]:
        if phone_number_id not in self._state.config.phone_number_ids:
            return 400, wire.unknown_object_body(phone_number_id, "post")
        if not isinstance(body, dict):
            return 400, wire.graph_error_body(100, details="The request body must be a JSON object.")
        if body.get("messaging_product") != "whatsapp":
            return 400, wire.graph_error_body(100, "(#100) The parameter messaging_product is required.")
        if "status" in body:
            return self._mark_read(body)
        return self._send(phone_number_id, body)

    # ---- mark read, typing indicator ------------------------------------------------------

    def _mark_read(self, body: Json) -> tuple[int, Json]:
        state = self._state
        typing = body.get("typing_indicator")
        kind = "typing" if typing is not None else "mark_read"
        failure = state.apply_fault(kind)
        if failure is not None:
            state.record_event(kind, failure[0], body, error=failure[1])
            return failure
        problem = _read_problem(body, typing)
        if problem:
            state.record_event(kind, 400, body, error=problem)
            return 400, wire.graph_error_body(100, details=problem)
        with state.lock:
            sender = state.mark_read_up_to(body["message_id"])
            if typing is not None and sender:
                state.typing_until[sender] = time.time() + TYPING_SECONDS
        state.record_event(kind, 200, body, message_id=body["message_id"])
        return 200, {"success": True}

    # ---- send -----------------------------------------------------------------------------

    def _send(self, phone_number_id: str, body: Json) -> tuple[int, Json]:
        state = self._state
        failure = state.apply_fault("send")
        if failure is not None:
            state.record_event("send", failure[0], body, error=failure[1])
            return failure
        problem = _send_problem(body)
        if problem is not None:
            code, details = problem
            state.record_event("send", 400, body, error=details)
            return 400, wire.graph_error_body(code, details=details)
        kind = body.get("type", "text")
        if kind == "template" and (refused := self._templates.send_problem(body["template"])):
            code, details = refused
            state.record_event("send", 400, body, error=details)
            return 400, wire.graph_error_body(code, details=details)
        to, wa_id, refusal = self._recipient(body)
        if refusal is not None:
            state.record_event("send", 400, body, error=refusal)
            return 400, refusal
        # Only templates may open a conversation, or go out once the window has closed.
        if state.config.enforce_service_window and not self._window_open(wa_id) and kind != "template":
            error = wire.graph_error_body(131047)
            state.record_event("send", 400, body, error=error)
            return 400, error
        record = self._record_outbound(phone_number_id, body, to, wa_id)
        state.record_event("send", 200, body, wamid=record["wamid"])
        self._statuses.schedule(record)
        if "to" not in body:  # a BSUID send answers with the user id, not the number
            return 200, {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "user_id": to}],
                "messages": [{"id": record["wamid"]}],
            }
        return 200, wire.send_success(to, wa_id, record["wamid"])

    def _recipient(self, body: Json) -> tuple[str, str, Json | None]:
        """(what was addressed, the user's number, Meta's refusal or None): `to` wins over
        `recipient` when both are there, as at Meta; a BSUID is refused for kinds told to."""
        if isinstance(body.get("to"), str) and digits(body["to"]):
            return str(body["to"]), digits(body["to"]), None
        user_id = str(body.get("recipient") or "")
        if str(body.get("type", "text")) in self._state.config.refuse_user_id_types:
            return user_id, "", wire.graph_error_body(131062)
        wa_id = Identities(self._state).phone_of(user_id)
        if wa_id is None:
            return user_id, "", wire.graph_error_body(131026, details="Message undeliverable")
        return user_id, wa_id, None

    def _window_open(self, wa_id: str) -> bool:
        last = self._state.last_inbound_at(wa_id)
        return last is not None and self._state.now() - last < SERVICE_WINDOW_SECONDS

    def _pricing(self, kind: str, content: Json) -> Json:
        """What Meta bills for this message (on its statuses): a template by its category, anything
        else as a service message (billed per message since October 2026)."""
        if kind == "template":
            template = self._templates.find(
                str(content.get("name")), str((content.get("language") or {}).get("code"))
            )
            category = str(template["category"]).lower() if template else "utility"
            return wire.pricing(category)
        return wire.pricing("service", billable=self._state.config.bill_service_messages)

    def _record_outbound(self, phone_number_id: str, body: Json, to: str, wa_id: str) -> Json:
        kind = body.get("type", "text")
        content: Json = body[kind]
        media = None
        if kind in MEDIA_TYPES:
            stored = self._media.get(str(content.get("id", "")))
            media = {
                "id": content.get("id"),
                "link": content.get("link"),
                "mime_type": stored.mime_type if stored else None,
                "filename": content.get("filename") or (stored.filename if stored else None),
            }
        state = self._state
        record: Json = {
            "direction": "out",
            "phone_number_id": phone_number_id,  # the business number it left from
            "wamid": wire.new_wamid(wa_id, inbound=False),
            "to": to,
            "wa_id": wa_id,
            "type": kind,
            "text": self._templates.render(content) if kind == "template" else _outbound_text(kind, content),
            "template": content if kind == "template" else None,
            "pricing": self._pricing(kind, content),
            "media": media,
            "interactive": content if kind == "interactive" else None,  # the chat page renders its buttons
            "reply_to": (body.get("context") or {}).get("message_id"),
            "at": state.now(),
            "status": "accepted",
            "statuses": [],
            "errors": [],
            "request": body,
        }
        with state.lock:
            state.outbox.append(record)
            state.typing_until.pop(wa_id, None)
            state.changed.notify_all()
        return record


def _read_problem(body: Json, typing: Any) -> str | None:
    if body.get("status") != "read":
        return "Param status must be 'read'."
    if not isinstance(body.get("message_id"), str) or not body["message_id"]:
        return "The parameter message_id is required."
    if typing is not None and (not isinstance(typing, dict) or typing.get("type") != "text"):
        return "Param typing_indicator['type'] must be 'text'."
    return None


def _send_problem(body: Json) -> tuple[int, str] | None:
    """Meta's (code, details) for a send it refuses outright, or None."""
    to = body.get("to")
    recipient = body.get("recipient")
    has_to = isinstance(to, str) and bool(digits(to))
    if not has_to and not (isinstance(recipient, str) and recipient):
        return 100, "The parameter to (or recipient) is required."
    kind = body.get("type", "text")
    if kind not in SENDABLE_TYPES:
        return 100, f"Param type must be one of {sorted(SENDABLE_TYPES)} - got {kind!r}."
    content = body.get(kind)
    if not isinstance(content, dict):
        return 100, f"The parameter {kind} is required."
    if kind == "text":
        text = content.get("body")
        if not isinstance(text, str) or not text:
            return 100, "The parameter text['body'] is required."
        if len(text.encode("utf-16-le")) // 2 > MAX_TEXT_CHARS:  # Meta counts UTF-16 units
            return 100, f"Param text['body'] must be at most {MAX_TEXT_CHARS} characters long."
    if kind in MEDIA_TYPES and not (content.get("id") or content.get("link")):
        return 131008, f"Param {kind} must contain one of id or link."
    if kind == "reaction" and not content.get("message_id"):
        return 100, "The parameter reaction['message_id'] is required."
    if kind == "interactive" and (problem := interactive_problem(content)):
        return INVALID_PARAMETER, problem
    context = body.get("context")
    if context is not None and (not isinstance(context, dict) or not context.get("message_id")):
        return 100, "The parameter context['message_id'] is required."
    return None


def _outbound_text(kind: str, content: Json) -> str:
    """The line the chat page shows for an outbound message."""
    if kind == "text":
        return str(content.get("body", ""))
    if kind == "reaction":
        return str(content.get("emoji", ""))
    if kind == "interactive":
        return str((content.get("body") or {}).get("text", ""))
    if kind == "location":
        return " ".join(str(content.get(k, "")) for k in ("name", "address")).strip()
    return str(content.get("caption", ""))
