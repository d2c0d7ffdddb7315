"""The Knowledge page: the documents the assistant answers from, added, replaced and removed.

An upload is read, split, embedded and stored within the request (a price list takes a second
or two), so the operator sees at once whether it worked; a file that cannot be read is refused
with the reason, on the page, and nothing is stored.
"""

from __future__ import annotations

import logging
import re

import flask

from shared.config import ConfigError
from shared.dashboard import state
from shared.dashboard.notices import notice_from
from shared.knowledge.ingest import KnowledgeUnavailable, ingest_document, remove_document
from shared.knowledge.reading import UnreadableDocument
from shared.store import business_numbers
from shared.store import knowledge as store
from shared.store.schema import ALL_NUMBERS

log = logging.getLogger(__name__)

knowledge = flask.Blueprint("knowledge", __name__)

UPLOAD_ENDPOINTS = frozenset({"knowledge.add", "knowledge.replace"})
_NUMBER = re.compile(r"^\d{1,20}$")
_DOCUMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def upload_limit() -> int:
    """Bytes a request carrying a document may have: the file, plus its form's other fields."""
    return state.current().clients.settings.knowledge_max_upload_bytes + 64 * 1024


def _scope(value: str | None) -> str | None:
    """ "all", a business number's phone_number_id, or None when the form's value is neither."""
    value = (value or "").strip()
    if value in ("", ALL_NUMBERS):
        return ALL_NUMBERS
    return value if _NUMBER.match(value) else None


def _page(*, error: str = "", status: int = 200) -> tuple[str, int]:
    dashboard = state.current()
    shown = flask.request.args.get("scope", "")
    scope = _scope(shown) if shown else None
    documents = store.list_documents(dashboard.db, scope=scope)
    numbers = business_numbers.list_numbers(dashboard.db, dashboard.config.number_defaults)
    return flask.render_template(
        "knowledge.html",
        documents=documents,
        numbers={n.phone_number_id: n.business_name for n in numbers},
        scope=shown if scope else "",
        error=error,
        notice=None if error else notice_from(flask.request.args),
        max_upload=state.current().clients.settings.knowledge_max_upload_bytes,
    ), status


@knowledge.get("/knowledge")
def page() -> tuple[str, int]:
    return _page()


def _ingest(replace_id: str | None) -> flask.Response | tuple[str, int]:
    dashboard = state.current()
    upload = flask.request.files.get("document")
    if upload is None or not upload.filename:
        return _page(error="Choose a file to add.", status=422)
    scope = _scope(flask.request.form.get("scope"))
    if scope is None:
        return _page(error="The business number is its phone number id: digits only.", status=422)
    name = upload.filename
    try:
        ingested = ingest_document(
            dashboard.clients.settings,
            dashboard.clients,
            data=upload.read(),
            filename=name,
            scope=scope,
            operator=state.operator().name,
            replace_id=replace_id,
        )
    except UnreadableDocument as exc:
        return _page(error=f"{name} was not added: {exc}", status=422)
    except KnowledgeUnavailable as exc:
        return _page(error=f"{name} was not added: {exc}", status=503)
    except ConfigError as exc:
        log.error("the knowledge base has no embedding model", extra={"error": str(exc)})
        return _page(error=f"{name} was not added: the dashboard has no Gemini access ({exc}).", status=503)
    except LookupError:
        return _page(error="That document was removed meanwhile; add the file as a new document.", status=409)
    notice = "knowledge_replaced" if ingested.replaced else "knowledge_added"
    return flask.redirect(flask.url_for("knowledge.page", notice=notice), code=303)


@knowledge.post("/knowledge")
def add() -> flask.Response | tuple[str, int]:
    return _ingest(None)


@knowledge.post("/knowledge/<document_id>/replace")
def replace(document_id: str) -> flask.Response | tuple[str, int]:
    if not _DOCUMENT_ID.match(document_id):
        flask.abort(404)
    return _ingest(document_id)


@knowledge.post("/knowledge/<document_id>/remove")
def remove(document_id: str) -> flask.Response:
    if not _DOCUMENT_ID.match(document_id):
        flask.abort(404)
    removed = remove_document(state.current().clients, document_id)
    notice = "knowledge_removed" if removed else "not_found"
    return flask.redirect(flask.url_for("knowledge.page", notice=notice), code=303)
