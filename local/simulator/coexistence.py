"""Coexistence: the business also writes from the WhatsApp Business app on the same number.

What the owner sends from the app reaches the user and comes to the webhook as an
`smb_message_echoes` change (`message_echoes[]`: from the business number to the user). At
onboarding Meta syncs past chats as `history` changes (threads of messages, each with its
`history_context.status`); `replay_history` sends the simulator's record of every conversation
that way, as a business that just connected its app would see it.
"""

from __future__ import annotations

import time
from typing import Any

from local.simulator import wire
from local.simulator.identities import Identities
from local.simulator.state import SimulatorError, SimulatorState, digits
from local.simulator.webhooks import WebhookSender
from local.simulator.wire import Json


class BusinessApp:
    def __init__(self, state: SimulatorState, webhooks: WebhookSender) -> None:
        self._state = state
        self._webhooks = webhooks

    def send(self, spec: Json) -> Json:
        """The owner writes `text` to user `to` from the app: the user gets it, the webhook an echo."""
        wa_id = digits(str(spec.get("to") or ""))
        text = str(spec.get("text") or "")
        if not wa_id or not text:
            raise SimulatorError("an app message needs `to` (the user's number) and `text`")
        wamid = wire.new_wamid(wa_id, inbound=False)
        identities = Identities(self._state)
        echo: Json = {
            "from": self._state.config.display_phone_number,
            "to": wa_id,
            "to_user_id": identities.user_id(wa_id),
            "id": wamid,
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": text},
        }
        if identities.profile(wa_id).hide_phone:
            del echo["to"]
        record: Json = {
            "direction": "out",
            "phone_number_id": self._state.config.phone_number_id,
            "wamid": wamid,
            "to": wa_id,
            "wa_id": wa_id,
            "type": "text",
            "text": text,
            "media": None,
            "interactive": None,
            "reply_to": None,
            "at": time.time(),
            "status": "delivered",
            "statuses": [],
            "errors": [],
            "request": {"business_app": True},
            "business_app": True,  # the chat page shows it as the owner's, from the app
        }
        with self._state.lock:
            self._state.outbox.append(record)
            self._state.changed.notify_all()
        body = self._webhooks.encode(self._webhooks.envelope("smb_message_echoes", message_echoes=[echo]))
        first = self._webhooks.deliver_first_then_retry("echo", [wamid], body)
        return {"wamid": wamid, "webhook_status": first["status"], "error": first["error"], "body": echo}

    def replay_history(self, spec: Json | None = None) -> Json:
        """One `history` webhook with every conversation the simulator holds (or those of `wa_ids`)."""
        wanted = {digits(str(w)) for w in (spec or {}).get("wa_ids") or []}
        display = self._state.config.display_phone_number
        threads: dict[str, list[Json]] = {}
        with self._state.lock:
            records = sorted([*self._state.inbound, *self._state.outbox], key=lambda r: r["at"])
        for record in records:
            wa_id = record.get("from") if record["direction"] == "in" else record.get("wa_id")
            if not wa_id or (wanted and wa_id not in wanted) or record.get("type") != "text":
                continue
            message: Json = {
                "from": wa_id if record["direction"] == "in" else display,
                "id": record["wamid"],
                "timestamp": str(int(record["at"])),
                "type": "text",
                "text": {"body": record.get("text") or ""},
                "history_context": {"status": str(record.get("status") or "delivered").upper()},
            }
            if record["direction"] == "out":
                message["to"] = wa_id
            threads.setdefault(wa_id, []).append(message)
        history: list[Any] = [
            {
                "metadata": {"phase": 0, "chunk_order": 1, "progress": 100},
                "threads": [{"id": w, "messages": m} for w, m in threads.items()],
            }
        ]
        body = self._webhooks.encode(self._webhooks.envelope("history", history=history))
        wamids = [m["id"] for ms in threads.values() for m in ms]
        first = self._webhooks.deliver_first_then_retry("history", wamids, body)
        return {"messages": len(wamids), "webhook_status": first["status"], "error": first["error"]}
