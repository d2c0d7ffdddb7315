"""Status webhooks: what happens to a message the business sent, after the Graph call answered.

Meta accepts a send at once and reports its fate later: ``sent``, ``delivered`` and (when the user
reads it) ``read``, or ``failed`` with an error. A plan of those steps runs in the background, one
``status_delay_seconds`` apart; a reset cancels it.
"""

from __future__ import annotations

import threading
import time

from local.simulator import wire
from local.simulator.identities import Identities
from local.simulator.media import MediaHost
from local.simulator.state import SimulatorError, SimulatorState
from local.simulator.webhooks import WebhookSender
from local.simulator.wire import Json

StatusPlan = list[tuple[str, list[Json] | None]]  # (state, errors) in the order they are reported


class StatusUpdates:
    """Moves outbound messages through their states and delivers one status webhook per step."""

    def __init__(self, state: SimulatorState, webhooks: WebhookSender, media: MediaHost) -> None:
        self._state = state
        self._webhooks = webhooks
        self._media = media

    def schedule(self, record: Json) -> None:
        """Start reporting the fate of a just-accepted outbound message."""
        fault = self._state.take_fault("delivery")
        unknown_media = (
            record["media"] and record["media"]["id"] and not self._media.get(record["media"]["id"])
        )
        if fault is not None:
            plan: StatusPlan = [("failed", [wire.webhook_error(fault.resolved_code(), fault.details)])]
        elif unknown_media:
            plan = [("failed", [wire.webhook_error(131053, "Media id not found.")])]
        else:
            plan = [("sent", None), ("delivered", None)]
            if self._state.config.auto_read:
                plan.append(("read", None))
        stop = self._state.stop
        thread = threading.Thread(target=self._run, args=(record, plan, stop), name="sim-status", daemon=True)
        thread.start()

    def _run(self, record: Json, plan: StatusPlan, stop: threading.Event) -> None:
        for state, errors in plan:
            if stop.wait(self._state.config.status_delay_seconds):
                return
            try:
                self.push(record["wamid"], state, errors, stop)
            except SimulatorError:
                return  # a reset forgot the message while we slept

    def push(
        self,
        wamid: str,
        state: str,
        errors: list[Json] | None = None,
        stop: threading.Event | None = None,
    ) -> Json:
        """Move an outbound message to ``state`` and deliver the status webhook (with retries)."""
        shared = self._state
        with shared.lock:
            record = shared.find_outbound(wamid)
            if record is None:
                raise SimulatorError(f"no outbound message {wamid}")
            now = int(shared.now())
            # Meta attaches pricing to "sent" and to one of delivered/read.
            with_pricing = (
                record.get("pricing")
                if shared.config.include_pricing and state in {"sent", "delivered"}
                else None
            )
            callback = (record.get("request") or {}).get("biz_opaque_callback_data")
            item = wire.status(wamid, state, record["wa_id"], now, with_pricing, errors, callback)
            # As since 2026: the BSUID always, the phone only for a user who shows it.
            del item["recipient_id"]
            item.update(Identities(shared).recipient_fields(record["wa_id"]))
            record["status"] = state
            record["statuses"].append({"status": state, "timestamp": str(now), "at": time.time()})
            if errors:
                record["errors"].extend(errors)
            shared.changed.notify_all()
        envelope = self._webhooks.envelope(phone_number_id=record.get("phone_number_id"), statuses=[item])
        body = self._webhooks.encode(envelope)
        return self._webhooks.deliver("status", wamid, body, stop or shared.stop)
