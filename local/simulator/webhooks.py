"""Webhook delivery: Meta's envelope, the exact bytes, the signature, and retries until a 2xx.

Every attempt is recorded (``deliveries``) with the receiver's status and answer. Inbound envelopes
are kept byte for byte so ``redeliver`` can post them again, as Meta does when it retries. Besides
signed deliveries there are the two things a test needs to go wrong on purpose: ``deliver_raw``
(any bytes, any signature) and ``verify`` (the ``hub.challenge`` handshake).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests

from local.simulator import wire
from local.simulator.state import SimulatorError, SimulatorState
from local.simulator.wire import Json


class WebhookSender:
    """Posts to the configured ``webhook_url`` as Meta does: signed, and retried until it answers 2xx."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self.clear()

    def clear(self) -> None:
        with self._state.lock:
            self._deliveries: list[Json] = []
            self._envelopes: dict[str, bytes] = {}  # inbound wamid -> exact bytes delivered

    def deliveries(self) -> list[Json]:
        with self._state.lock:
            return [dict(d) for d in self._deliveries]

    # ---- building bodies ------------------------------------------------------------------

    def envelope(self, field: str = "messages", phone_number_id: str | None = None, **value: Any) -> Json:
        """Meta's envelope for the business number `phone_number_id` (the main one by default)."""
        cfg = self._state.config
        number = phone_number_id or cfg.phone_number_id
        if number not in cfg.phone_number_ids:
            raise SimulatorError(f"{number} is not one of the business numbers {list(cfg.phone_number_ids)}")
        display = cfg.display_phone_number if number == cfg.phone_number_id else number[-11:]
        return wire.envelope(cfg.waba_id, display, number, field, **value)

    def encode(self, payload: Json) -> bytes:
        return wire.encode_body(payload, self._state.config.escape_non_ascii)

    def remember(self, wamid: str, body: bytes) -> None:
        """Keep the bytes an inbound message went out in, for ``redeliver``."""
        with self._state.lock:
            self._envelopes[wamid] = body

    def _signature(self, body: bytes) -> str:
        return wire.sign(self._state.config.app_secret, body)

    # ---- delivering -----------------------------------------------------------------------

    def deliver(self, kind: str, wamid: str, body: bytes, stop: threading.Event) -> Json:
        """Deliver and retry in this thread; the last attempt is the answer."""
        signature = self._signature(body)
        attempt = self._attempt(kind, [wamid], body, signature, 1)
        return self._retry(kind, [wamid], body, signature, attempt, stop)

    def deliver_first_then_retry(self, kind: str, wamids: list[str], body: bytes) -> Json:
        """The first try answers the caller; retries go on in the background like Meta's."""
        signature = self._signature(body)
        first = self._attempt(kind, wamids, body, signature, 1)
        if not _accepted(first) and self._state.config.webhook_url:
            stop = self._state.stop
            threading.Thread(
                target=self._retry,
                args=(kind, wamids, body, signature, first, stop),
                name="sim-webhook-retry",
                daemon=True,
            ).start()
        return first

    def redeliver(self, wamid: str) -> Json:
        """Post the exact bytes of an earlier inbound envelope again, as Meta does on a retry."""
        with self._state.lock:
            body = self._envelopes.get(wamid)
        if body is None:
            raise SimulatorError(f"no inbound message {wamid}")
        attempt = self._attempt("inbound", [wamid], body, self._signature(body), 1)
        return {"wamid": wamid, "webhook_status": attempt["status"], "error": attempt["error"]}

    def deliver_raw(self, spec: Json) -> Json:
        """Post arbitrary bytes to the webhook, signed correctly unless told otherwise (no retries)."""
        body = _raw_body(spec)
        if "signature" in spec:
            signature = spec["signature"]  # None omits the header; a string is sent as is
        else:
            secret = spec.get("app_secret") or self._state.config.app_secret
            signature = wire.sign(str(secret), body)
        extra = spec.get("headers") or {}
        attempt = self._attempt("raw", [], body, signature, 1, extra_headers=extra)
        return {
            "webhook_status": attempt["status"],
            "error": attempt["error"],
            "response": attempt["response"],
        }

    def verify(self, verify_token: str | None = None) -> Json:
        """Run Meta's GET handshake against the webhook, as saving the URL in the App Dashboard does."""
        cfg = self._state.config
        challenge = str(secrets.randbelow(10**9))
        params = {
            "hub.mode": "subscribe",
            "hub.challenge": challenge,
            "hub.verify_token": verify_token or cfg.verify_token,
        }
        url = cfg.webhook_url
        if not url:
            raise SimulatorError("no webhook_url configured")
        try:
            response = requests.get(url, params=params, timeout=cfg.webhook_timeout_seconds)
        except requests.RequestException as exc:
            return {"ok": False, "status": None, "error": str(exc)}
        ok = response.status_code == 200 and response.text == challenge
        return {"ok": ok, "status": response.status_code, "body": response.text[:200], "challenge": challenge}

    # ---- one attempt, and the retries after it --------------------------------------------

    def _post(self, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str, str | None]:
        cfg = self._state.config
        if not cfg.webhook_url:
            return None, "", "no webhook_url configured"
        try:
            response = requests.post(
                cfg.webhook_url, data=body, headers=dict(headers), timeout=cfg.webhook_timeout_seconds
            )
        except requests.RequestException as exc:
            return None, "", f"{type(exc).__name__}: {exc}"
        return response.status_code, response.text[:1000], None

    def _attempt(
        self,
        kind: str,
        wamids: list[str],
        body: bytes,
        signature: str | None,
        number: int,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Json:
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        headers.update(extra_headers or {})
        status, text, error = self._post(body, headers)
        attempt = {
            "kind": kind,
            "wamids": wamids,
            "attempt": number,
            "status": status,
            "error": error,
            "response": text,
            "at": time.time(),
        }
        with self._state.lock:
            self._deliveries.append(attempt)
            if kind == "inbound":
                self._state.note_inbound_delivery(wamids, status)
            self._state.changed.notify_all()
        return attempt

    def _retry(
        self, kind: str, wamids: list[str], body: bytes, signature: str, last: Json, stop: threading.Event
    ) -> Json:
        for number, delay in enumerate(self._state.config.webhook_retry_delays, start=2):
            if _accepted(last) or not self._state.config.webhook_url or stop.wait(delay):
                break
            last = self._attempt(kind, wamids, body, signature, number)
        if not _accepted(last) and kind == "inbound":
            self._state.give_up_inbound(wamids)
        return last


def _accepted(attempt: Json) -> bool:
    status = attempt.get("status")
    return status is not None and 200 <= status < 300


def _raw_body(spec: Json) -> bytes:
    if "body_base64" in spec:
        return base64.b64decode(spec["body_base64"])
    if "json" in spec:
        return wire.encode_body(spec["json"])
    body = spec.get("body")
    if not isinstance(body, str):
        raise SimulatorError("give body (string), body_base64 or json")
    return body.encode()
