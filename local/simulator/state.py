"""What every part of the simulator shares: the settings, one lock, the conversation and the call log.

The media host and the webhook sender keep records of their own (media, delivery attempts), but every
part locks this one ``RLock``, so a reset or a read sees all the records in one consistent state.
``changed`` wakes long-polls (``wait_outbox``); ``stop`` is replaced on reset, which cancels the
background deliveries that captured the old one.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from local.faults import FaultQueue
from local.simulator.config import SimulatorConfig
from local.simulator.faults import Fault
from local.simulator.wire import Json


class SimulatorError(ValueError):
    """A bad control-API request; answered with HTTP 400 and the message."""


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


class SimulatorState:
    """Settings, lock, the messages both ways, the Graph call log and the error switches."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.stop = threading.Event()
        self.clock_offset = 0.0  # seconds the simulated clock runs ahead of the real one
        self._clear()

    def now(self) -> float:
        """Meta's clock: the real time plus whatever a test moved it forward by (``advance``)."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward (never back): the 24-hour window closes without a day's wait."""
        if seconds < 0:
            raise SimulatorError("the clock only moves forward")
        with self.lock:
            self.clock_offset += seconds
            return self.now()

    def _clear(self) -> None:
        self.inbound: list[Json] = []  # what the users sent, oldest first
        self.outbox: list[Json] = []  # what the business sent, oldest first
        self.typing_until: dict[str, float] = {}  # wa_id -> when the typing indicator goes away
        self.events: list[Json] = []  # every Graph call, answered or refused
        self.faults: FaultQueue[Fault] = FaultQueue()
        self.profiles: dict[str, Any] = {}  # wa_id -> identities.Profile (username, hidden phone)

    def restart(self) -> None:
        """Cancel background work that holds the current ``stop`` and forget every record here."""
        with self.lock:
            self.stop.set()
            self.stop = threading.Event()
            self.clock_offset = 0.0
            self._clear()
            self.changed.notify_all()

    # ---- the Graph call log and the error switches --------------------------------------

    def record_event(self, kind: str, status: int, payload: Any = None, **extra: Any) -> None:
        with self.lock:
            self.events.append({"kind": kind, "at": time.time(), "status": status, "body": payload, **extra})
            self.changed.notify_all()

    def take_fault(self, target: str) -> Fault | None:
        return self.faults.take(lambda fault: fault.target == target)

    def apply_fault(self, target: str) -> tuple[int, Json] | None:
        """Hang and/or fail as a switch says; None means "go on normally"."""
        fault = self.take_fault(target)
        if fault is None:
            return None
        if fault.hang_seconds:
            self.stop.wait(fault.hang_seconds)
        return fault.response() if fault.fails else None

    # ---- the conversation records --------------------------------------------------------

    def find_outbound(self, wamid: str) -> Json | None:
        with self.lock:
            return next((m for m in self.outbox if m["wamid"] == wamid), None)

    def last_inbound_at(self, wa_id: str) -> float | None:
        with self.lock:
            return max((m["at"] for m in self.inbound if m["from"] == wa_id), default=None)

    def mark_read_up_to(self, wamid: str) -> str | None:
        """Mark ``wamid`` read and return its sender (None if unknown)."""
        # Like WhatsApp, reading one message also reads everything the user sent before it.
        with self.lock:
            target = next((m for m in self.inbound if m["wamid"] == wamid), None)
            if target is None:
                return None
            for message in self.inbound:
                if message["from"] == target["from"] and message["at"] <= target["at"]:
                    message["status"] = "read"
            self.changed.notify_all()
            return str(target["from"])

    def note_inbound_delivery(self, wamids: list[str], status: int | None) -> None:
        accepted = status is not None and 200 <= status < 300
        with self.lock:
            for message in self.inbound:
                if message["wamid"] in wamids and message["status"] in {"pending", "failed"}:
                    message["status"] = "delivered" if accepted else "pending"

    def give_up_inbound(self, wamids: list[str]) -> None:
        """The webhook never accepted these messages: the chat page shows them as failed."""
        with self.lock:
            for message in self.inbound:
                if message["wamid"] in wamids and message["status"] == "pending":
                    message["status"] = "failed"
            self.changed.notify_all()

    def conversation(self, wa_id: str, provider: str = "cloud") -> Json:
        """One user's thread with one business number (the Cloud API's or, with `provider`
        "waha", the WAHA session's), both directions in time order, as the chat page shows it."""
        wa_id = digits(wa_id)

        def mine(m: Json) -> bool:
            return m.get("provider", "cloud") == provider

        with self.lock:
            items = [_public(m) for m in self.inbound if m["from"] == wa_id and mine(m)]
            items += [_public(m) for m in self.outbox if m["wa_id"] == wa_id and mine(m)]
            typing = self.typing_until.get(wa_id, 0.0) > time.time()
            cfg = self.config
        items.sort(key=lambda m: m["at"])
        number = cfg.waha_phone_number if provider == "waha" else cfg.display_phone_number
        return {
            "wa_id": wa_id,
            "provider": provider,
            "providers": ["cloud", "waha"] if cfg.waha_webhook_url else ["cloud"],
            "business": {"name": cfg.business_name, "display_phone_number": number},
            "webhook_url": cfg.waha_webhook_url if provider == "waha" else cfg.webhook_url,
            "typing": typing,
            "messages": items,
        }


def _public(record: Json) -> Json:
    return {k: v for k, v in record.items() if k not in {"request", "message"}}
