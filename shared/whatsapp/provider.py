"""The provider boundary: what the reply, media and dashboard code ask of whoever carries a
business number's messages to WhatsApp.

Each business number is served by one provider: Meta's Cloud API (`shared/whatsapp/client.py`,
the default) or a WAHA session (`shared/whatsapp/waha/client.py`, for numbers named in
WAHA_SESSION). `Clients.provider(phone_number_id)` picks it; nothing past that call knows which
one it holds. Inbound, each provider has its own webhook path and parser, and both produce the
same models (`shared/whatsapp/models.py`): messages, and statuses mapped to `DeliveryStatus`.

Every provider keeps the same promises: a send returns the message id its statuses will name,
raises `OutcomeUnknown` (never retried) when the request may have gone out unanswered, and
classifies other failures as the `WhatsAppError` subclasses of `shared/whatsapp/errors.py`;
media urls are trusted only on the provider's own hosts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import requests

from shared.deadline import Deadline


class Provider(Protocol):
    refreshes_media_urls: bool  # the Cloud API gives a fresh url for a media id; WAHA cannot

    def send_text(
        self,
        phone_number_id: str,
        to: str,
        body: str,
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
        deadline: Deadline | None = None,
    ) -> str:
        """Send one text message; returns its message id."""
        ...

    def send_interactive(
        self,
        phone_number_id: str,
        to: str,
        interactive: Mapping[str, Any],
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
        deadline: Deadline | None = None,
    ) -> str:
        """Send Meta's `interactive` object, or its plain-text fallback where it cannot be shown
        (shared/whatsapp/plain_fallback.py); returns the message id."""
        ...

    def mark_read(
        self, phone_number_id: str, wamid: str, *, typing: bool = False, deadline: Deadline | None = None
    ) -> None:
        """Blue ticks for `wamid`; with `typing`, '...typing' until the next send."""
        ...

    def trusts_media_url(self, url: str) -> bool:
        """Whether a media url may be fetched with this provider's credentials."""
        ...

    def media_metadata(self, media_id: str, *, deadline: Deadline | None = None) -> dict[str, Any]:
        """A fresh url (and size, type, hash) for a media id, where the provider has one."""
        ...

    def open_download(self, url: str, *, deadline: Deadline | None = None) -> requests.Response:
        """Start streaming a trusted media url; the caller reads and closes it."""
        ...
