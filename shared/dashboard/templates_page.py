"""The templates page: the business account's templates as stored, and syncing them from Meta."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from google.cloud import firestore

from shared.store.templates import sync_templates
from shared.whatsapp.errors import WhatsAppError
from shared.whatsapp.templates import Template

log = logging.getLogger(__name__)


class TemplateLister(Protocol):
    def list_templates(self, waba_id: str) -> list[dict]: ...


@dataclass(frozen=True)
class SyncReport:
    ok: bool
    kept: int = 0
    removed: int = 0


def sync_from_whatsapp(db: firestore.Client, waba_id: str, lister: TemplateLister) -> SyncReport:
    """Every page of the account's templates from the Graph API, stored in place of the old list."""
    try:
        listed = [Template.from_graph(t) for t in lister.list_templates(waba_id)]
    except WhatsAppError as exc:
        log.warning("template sync failed", extra={"error": type(exc).__name__, "code": exc.code})
        return SyncReport(ok=False)
    kept, removed = sync_templates(db, waba_id, listed)
    log.info("templates synced", extra={"waba_id": waba_id, "templates": kept, "removed": removed})
    return SyncReport(ok=True, kept=kept, removed=removed)
