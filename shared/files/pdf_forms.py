"""How much work a PDF page's Form XObjects give text extraction, counted before it starts.

A Form XObject is a content stream that a page draws with one ``Do`` operator, as often as it
likes, and forms can draw forms. pypdf parses and walks a form again at every invocation (up to
5,000 per page), so a 1 KB file whose page draws one 100 KB form a few thousand times costs
minutes of CPU. The page's own content costs what it weighs and is bounded by the page and time
caps; here every invocation is charged the decoded size of the form it draws, nested forms
included, and each distinct form is read once however often it is drawn.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# pypdf reads about a megabyte of content per second: a page may cost a few seconds, no more.
MAX_FORM_BYTES_PER_PAGE = 4 * 1024 * 1024
# An empty form still costs pypdf something to enter: no invocation is free.
MIN_INVOCATION_BYTES = 1024


class FormWork:
    """Form bytes per page, with each form's cost remembered across the document's pages."""

    def __init__(self, reader: Any, limit: int = MAX_FORM_BYTES_PER_PAGE) -> None:
        self._reader = reader
        self._limit = limit
        self._costs: dict[int, int] = {}

    def of_page(self, page: Any) -> int:
        """The form bytes extracting ``page`` would walk (at most a little over the limit)."""
        forms = _forms(page.get("/Resources"))
        if not forms:
            return 0  # the usual page: no forms, nothing to count, nothing parsed twice
        try:
            contents = page.get_contents()
        except Exception:  # a broken page fails in extraction too, and costs no more there
            return 0
        return self._invocations(contents, forms, active=set())

    def _invocations(self, contents: Any, forms: dict[Any, Any], active: set[int]) -> int:
        if contents is None or b"Do" not in contents.get_data():
            return 0
        total = 0
        try:
            operations = contents.operations
        except Exception:  # unparsable: pypdf gives up on it at the same point
            return 0
        for operands, operator in operations:
            if operator != b"Do" or not operands or operands[0] not in forms:
                continue
            total += max(MIN_INVOCATION_BYTES, self._cost(forms[operands[0]], active))
            if total > self._limit:
                break
        return total

    def _cost(self, form: Any, active: set[int]) -> int:
        key = id(form)
        if key in self._costs:
            return self._costs[key]
        if key in active:
            return 0  # a cycle: pypdf skips it too
        from pypdf.generic import ContentStream

        active.add(key)
        try:
            data = form.get_data()
            cost = len(data)
            nested = _forms(form.get("/Resources"))
            if nested and b"Do" in data:
                cost += self._invocations(ContentStream(form, self._reader), nested, active)
        except Exception:  # pypdf fails on this form at every invocation, after reading it
            cost = len(getattr(form, "_data", b"") or b"")
        finally:
            active.discard(key)
        self._costs[key] = cost
        return cost


def _forms(resources: Any) -> dict[Any, Any]:
    """Name -> Form XObject of a resource dictionary (images and broken entries left out)."""
    try:
        xobjects = resources.get_object().get("/XObject") if resources is not None else None
        if xobjects is None:
            return {}
        found = {}
        for name, reference in xobjects.get_object().items():
            xobject = reference.get_object()
            if hasattr(xobject, "get_data") and xobject.get("/Subtype") == "/Form":
                found[name] = xobject
        return found
    except Exception:  # a malformed resource dictionary: pypdf cannot use it either
        log.debug("unreadable XObject resources", exc_info=True)
        return {}
