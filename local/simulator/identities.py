"""Who each simulated user is to the business, as WhatsApp shows it since 2026.

Every user has a business-scoped user id (BSUID), derived from the business account and their
number (and changed, as Meta changes it, when they change number), sent on every webhook as
`contacts[].user_id` and `messages[].from_user_id`, and on statuses as `recipient_user_id`. From
the chat page (or `POST /_sim/users`) a user can be given a username, and their phone hidden:
their messages then come with no `from` and no `wa_id`, as a username user's do, and the business
can reach them only by `recipient` (their BSUID).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from local.simulator.state import SimulatorError, SimulatorState, digits
from local.simulator.wire import Json


@dataclass(frozen=True)
class Profile:
    username: str = ""
    hide_phone: bool = False
    generation: int = 0  # bumped by a change of BSUID

    def public(self) -> Json:
        return {"username": self.username, "hide_phone": self.hide_phone}


class Identities:
    def __init__(self, state: SimulatorState) -> None:
        self._state = state

    def profile(self, wa_id: str) -> Profile:
        with self._state.lock:
            return self._state.profiles.get(wa_id, Profile())

    def set_profile(self, wa_id: str, changes: Json) -> Json:
        wa_id = digits(wa_id)
        if not wa_id:
            raise SimulatorError("wa_id must be a phone number")
        username = str(changes.get("username", self.profile(wa_id).username) or "").strip().lstrip("@")
        if len(username) > 35:
            raise SimulatorError("a username has at most 35 characters")
        with self._state.lock:
            current = self._state.profiles.get(wa_id, Profile())
            hide = bool(changes.get("hide_phone", current.hide_phone))
            self._state.profiles[wa_id] = replace(current, username=username, hide_phone=hide)
        return self.describe(wa_id)

    def new_user_id(self, wa_id: str) -> str:
        """Give the user a new BSUID (what `user_changed_user_id` reports); returns it."""
        with self._state.lock:
            current = self._state.profiles.get(wa_id, Profile())
            self._state.profiles[wa_id] = replace(current, generation=current.generation + 1)
        return self.user_id(wa_id)

    def user_id(self, wa_id: str) -> str:
        """The user's BSUID to this business: `US.` and 20 digits, stable for a number."""
        generation = self.profile(wa_id).generation
        seed = f"{self._state.config.waba_id}:{wa_id}:{generation}".encode()
        number = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big")
        return f"US.{number:020d}"

    def phone_of(self, user_id: str) -> str | None:
        """The user a BSUID belongs to, among those who wrote or were given a profile."""
        with self._state.lock:
            known = {r.get("from") for r in self._state.inbound} | set(self._state.profiles)
        return next((w for w in known if w and self.user_id(w) == user_id), None)

    def describe(self, wa_id: str) -> Json:
        return {"wa_id": wa_id, "user_id": self.user_id(wa_id), **self.profile(wa_id).public()}

    # ---- what webhooks say about a user ---------------------------------------------------

    def sender_fields(self, wa_id: str) -> Json:
        """`from` (unless hidden) and `from_user_id` of a message the user sends."""
        fields: Json = {"from_user_id": self.user_id(wa_id)}
        if not self.profile(wa_id).hide_phone:
            fields = {"from": wa_id, **fields}
        return fields

    def contact(self, wa_id: str, name: str) -> Json:
        profile = self.profile(wa_id)
        entry: Json = {"profile": {"name": name}}
        if profile.username:
            entry["profile"]["username"] = profile.username
        if not profile.hide_phone:
            entry["wa_id"] = wa_id
        entry["user_id"] = self.user_id(wa_id)
        return entry

    def recipient_fields(self, wa_id: str) -> Json:
        """`recipient_id` (unless hidden) and `recipient_user_id` of a status."""
        fields: Json = {"recipient_user_id": self.user_id(wa_id)}
        if not self.profile(wa_id).hide_phone:
            fields["recipient_id"] = wa_id
        return fields
