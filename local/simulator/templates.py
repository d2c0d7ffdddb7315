"""Message templates: the WhatsApp Business Account's catalogue, Meta's review, and template sends.

``POST /{waba_id}/message_templates`` creates a template (PENDING, as Meta's review starts);
``GET /{waba_id}/message_templates`` lists them in pages (``limit``, ``after``, with
``paging.cursors`` and ``paging.next`` like the Graph API). A test (or the chat page) plays Meta's
reviewer with ``review``: the status changes and a signed ``message_template_status_update``
webhook goes out; ``rate`` sends ``message_template_quality_update``. A template send is checked as
Meta checks it: the template exists in that language, is APPROVED, and gets exactly the
parameters its components ask for (``{{1}}``, ``{{2}}``... in the header and body, one per URL
button with a variable, a payload per quick-reply button when given).
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

from local.simulator import wire
from local.simulator.state import SimulatorError, SimulatorState
from local.simulator.webhooks import WebhookSender
from local.simulator.wire import Json

CATEGORIES = frozenset({"MARKETING", "UTILITY", "AUTHENTICATION"})
STATUSES = frozenset({"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"})
QUALITY_SCORES = frozenset({"GREEN", "YELLOW", "RED", "UNKNOWN"})
DEFAULT_PAGE = 25
MAX_PAGE = 100
NAME = re.compile(r"^[a-z0-9_]{1,512}$")
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def placeholders(text: str) -> int:
    """How many parameters a component text asks for: the highest ``{{n}}`` in it."""
    return max((int(n) for n in PLACEHOLDER.findall(text or "")), default=0)


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode().rstrip("=")


def _index(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(raw.removeprefix("idx:"))
    except (ValueError, UnicodeDecodeError):
        return -1


class TemplateCatalog:
    """The business account's templates, kept in creation order under the simulator's lock."""

    def __init__(self, state: SimulatorState, webhooks: WebhookSender) -> None:
        self._state = state
        self._webhooks = webhooks
        self.clear()

    def clear(self) -> None:
        with self._state.lock:
            self._templates: list[Json] = []

    # ---- the Graph API ----------------------------------------------------------------------

    def create(self, waba_id: str, body: Any) -> tuple[int, Json]:
        if waba_id != self._state.config.waba_id:
            return 400, wire.unknown_object_body(waba_id, "post")
        if not isinstance(body, dict):
            return 400, wire.graph_error_body(100, details="The request body must be a JSON object.")
        name, language = str(body.get("name") or ""), str(body.get("language") or "")
        category = str(body.get("category") or "").upper()
        components = body.get("components")
        if not NAME.match(name):
            return 400, wire.graph_error_body(100, details="Param name must be lowercase letters, digits, _.")
        if not language:
            return 400, wire.graph_error_body(100, details="The parameter language is required.")
        if category not in CATEGORIES:
            return 400, wire.graph_error_body(
                100, details=f"Param category must be one of {sorted(CATEGORIES)}."
            )
        if not isinstance(components, list) or not any(
            isinstance(c, dict) and str(c.get("type", "")).upper() == "BODY" for c in components
        ):
            return 400, wire.graph_error_body(100, details="A template needs a BODY component.")
        with self._state.lock:
            if self.find(name, language) is not None:
                return 400, wire.graph_error_body(
                    100, details=f"Content in this language already exists for {name}."
                )
            template: Json = {
                "id": str(secrets.randbelow(9 * 10**14) + 10**14),
                "name": name,
                "language": language,
                "category": category,
                "status": "PENDING",
                "quality_score": {"score": "UNKNOWN"},
                "components": [dict(c) for c in components],
            }
            self._templates.append(template)
        return 200, {"id": template["id"], "status": "PENDING", "category": category}

    def list(self, waba_id: str, args: dict[str, str]) -> tuple[int, Json]:
        if waba_id != self._state.config.waba_id:
            return 400, wire.unknown_object_body(waba_id, "get")
        try:
            limit = max(1, min(MAX_PAGE, int(args.get("limit") or DEFAULT_PAGE)))
        except ValueError:
            return 400, wire.graph_error_body(100, details="Param limit must be a number.")
        start = _index(args["after"]) + 1 if args.get("after") else 0
        if start < 0:
            return 400, wire.graph_error_body(100, details="Invalid cursor.")
        with self._state.lock:
            page = [dict(t) for t in self._templates[start : start + limit]]
            more = start + limit < len(self._templates)
        body: Json = {"data": page}
        if page:
            body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(page) - 1)}}
            if more:
                body["paging"]["next"] = (
                    f"/{waba_id}/message_templates?limit={limit}&after={_cursor(start + len(page) - 1)}"
                )
        return 200, body

    # ---- playing Meta's reviewer --------------------------------------------------------------

    def add(self, spec: Json) -> Json:
        """Create a template straight away (``status`` defaults to APPROVED, no webhook)."""
        status = str(spec.get("status") or "APPROVED").upper()
        code, answer = self.create(
            self._state.config.waba_id, {k: v for k, v in spec.items() if k != "status"}
        )
        if code != 200:
            raise SimulatorError(answer["error"]["error_data"]["details"])
        with self._state.lock:
            template = self._by_id(answer["id"])
            template["status"] = status
            return dict(template)

    def review(self, template_id: str, status: str, reason: str | None = None) -> Json:
        """Meta's verdict on a template: its status changes and the status webhook is delivered."""
        status = status.upper()
        if status not in STATUSES:
            raise SimulatorError(f"status must be one of {sorted(STATUSES)}")
        with self._state.lock:
            template = self._by_id(template_id)
            template["status"] = status
            value = {
                "event": status,
                "message_template_id": int(template["id"]),
                "message_template_name": template["name"],
                "message_template_language": template["language"],
                "reason": reason or ("NONE" if status == "APPROVED" else "INCORRECT_CATEGORY"),
            }
        return self._deliver("message_template_status_update", template["id"], value)

    def rate(self, template_id: str, score: str) -> Json:
        """A new quality score for a template, with its ``message_template_quality_update`` webhook."""
        score = score.upper()
        if score not in QUALITY_SCORES:
            raise SimulatorError(f"score must be one of {sorted(QUALITY_SCORES)}")
        with self._state.lock:
            template = self._by_id(template_id)
            previous = template["quality_score"]["score"]
            template["quality_score"] = {"score": score}
            value = {
                "previous_quality_score": previous,
                "new_quality_score": score,
                "message_template_id": int(template["id"]),
                "message_template_name": template["name"],
                "message_template_language": template["language"],
            }
        return self._deliver("message_template_quality_update", template["id"], value)

    def templates(self) -> list[Json]:
        with self._state.lock:
            return [dict(t) for t in self._templates]

    def find(self, name: str, language: str) -> Json | None:
        with self._state.lock:
            return next((t for t in self._templates if t["name"] == name and t["language"] == language), None)

    def _by_id(self, template_id: str) -> Json:
        template = next((t for t in self._templates if t["id"] == str(template_id)), None)
        if template is None:
            raise SimulatorError(f"no template {template_id}")
        return template

    def _deliver(self, field: str, template_id: str, value: Json) -> Json:
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self._state.config.waba_id,
                    "time": int(self._state.now()),
                    "changes": [{"value": value, "field": field}],
                }
            ],
        }
        return self._webhooks.deliver(field, template_id, self._webhooks.encode(payload), self._state.stop)

    # ---- template sends -------------------------------------------------------------------------

    def send_problem(self, content: Json) -> tuple[int, str] | None:
        """Meta's (code, details) for a template send it refuses, or None."""
        name = str(content.get("name") or "")
        language = content.get("language")
        code = str(language.get("code") or "") if isinstance(language, dict) else ""
        if not name or not code:
            return 100, "The parameters template['name'] and template['language']['code'] are required."
        template = self.find(name, code)
        if template is None:
            return 132001, f"template name ({name}) does not exist in {code}"
        if template["status"] == "PAUSED":
            return 132015, f"template {name} is paused"
        if template["status"] != "APPROVED":
            return 132001, f"template name ({name}) does not exist in {code} (status {template['status']})"
        given = content.get("components") or []
        if not isinstance(given, list):
            return 100, "Param template['components'] must be an array."
        for part in required_parameters(template):
            kind, index, wanted = part
            found = _given_parameters(given, kind, index)
            if len(found) != wanted:
                where = kind if index is None else f"button {index}"
                return (
                    132000,
                    f"number of parameters for {where} ({len(found)}) does not match the expected ({wanted})",
                )
            if any(p.get("type") == "text" and not str(p.get("text") or "").strip() for p in found):
                return 132018, f"a parameter of {kind} is empty"
        return None

    def render(self, content: Json) -> str:
        """The text a customer reads: the template's header and body with the parameters filled."""
        template = self.find(str(content.get("name")), str((content.get("language") or {}).get("code")))
        if template is None:
            return f"[template {content.get('name', '')}]"
        lines = []
        for component in template["components"]:
            kind = str(component.get("type", "")).upper()
            if kind in {"HEADER", "BODY", "FOOTER"} and component.get("text"):
                given = _given_parameters(content.get("components") or [], kind, None)
                lines.append(_filled(component["text"], [str(p.get("text", "")) for p in given]))
        return "\n".join(lines)


def required_parameters(template: Json) -> list[tuple[str, int | None, int]]:
    """(component type, button index, parameter count) for each part of a template that takes any."""
    needed: list[tuple[str, int | None, int]] = []
    for component in template.get("components") or []:
        kind = str(component.get("type", "")).upper()
        text_part = kind in {"HEADER", "BODY"} and component.get("format", "TEXT").upper() == "TEXT"
        if text_part and (count := placeholders(str(component.get("text") or ""))):
            needed.append((kind, None, count))
        if kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                if str(button.get("type", "")).upper() == "URL" and placeholders(
                    str(button.get("url") or "")
                ):
                    needed.append(("BUTTON", index, 1))
    return needed


def _given_parameters(given: list[Any], kind: str, index: int | None) -> list[Json]:
    for component in given:
        if not isinstance(component, dict) or str(component.get("type", "")).upper() != kind:
            continue
        if index is not None and str(component.get("index")) != str(index):
            continue
        params = component.get("parameters") or []
        return [p for p in params if isinstance(p, dict)]
    return []


def _filled(text: str, values: list[str]) -> str:
    return PLACEHOLDER.sub(lambda m: _nth(values, int(m.group(1))), text)


def _nth(values: list[str], number: int) -> str:
    return values[number - 1] if 0 < number <= len(values) else f"{{{{{number}}}}}"
