"""Meta's checks on an interactive message (reply buttons, list): limits refused with 131009.

The simulator refuses what Meta refuses, so a test of the assistant's choices fails here rather
than in production: at most 3 buttons with unique titles of up to 20 characters and ids up to
256; a list with a button label of up to 20, at most 10 sections and 10 rows in all, row titles
up to 24, descriptions up to 72, unique row ids; a body of up to 1,024 characters (buttons) or
4,096 (list); header and footer up to 60. Lengths count UTF-16 units, as Meta's do.
"""

from __future__ import annotations

from typing import Any

INVALID_PARAMETER = 131009


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _text_problem(value: Any, where: str, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        return f"Parameter {where} is required."
    if _length(value) > limit:
        return f"Param {where} must be at most {limit} characters long."
    return None


def interactive_problem(content: dict[str, Any]) -> str | None:
    """Meta's error details for an interactive object it refuses, or None."""
    kind = content.get("type")
    if kind not in ("button", "list"):
        return "Param interactive['type'] must be one of button, list."
    body = content.get("body")
    problem = _text_problem(
        body.get("text") if isinstance(body, dict) else None,
        "interactive['body']['text']",
        1024 if kind == "button" else 4096,
    )
    if problem:
        return problem
    for part in ("header", "footer"):
        value = content.get(part)
        if value is not None:
            text = value.get("text") if isinstance(value, dict) else None
            if problem := _text_problem(text, f"interactive['{part}']['text']", 60):
                return problem
    action = content.get("action")
    if not isinstance(action, dict):
        return "The parameter interactive['action'] is required."
    return _buttons_problem(action) if kind == "button" else _list_problem(action)


def _buttons_problem(action: dict[str, Any]) -> str | None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return "Param interactive['action']['buttons'] must have 1 to 3 buttons."
    titles: set[str] = set()
    ids: set[str] = set()
    for i, button in enumerate(buttons):
        reply = button.get("reply") if isinstance(button, dict) else None
        if not isinstance(reply, dict) or button.get("type") != "reply":
            return f"Param interactive['action']['buttons'][{i}] must be a reply button."
        if problem := _text_problem(
            reply.get("title"), f"interactive['action']['buttons'][{i}]['reply']['title']", 20
        ):
            return problem
        if problem := _text_problem(
            reply.get("id"), f"interactive['action']['buttons'][{i}]['reply']['id']", 256
        ):
            return problem
        if reply["title"] in titles or reply["id"] in ids:
            return "Button titles and ids must be unique."
        titles.add(reply["title"])
        ids.add(reply["id"])
    return None


def _list_problem(action: dict[str, Any]) -> str | None:
    if problem := _text_problem(action.get("button"), "interactive['action']['button']", 20):
        return problem
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        return "Param interactive['action']['sections'] must have 1 to 10 sections."
    ids: set[str] = set()
    rows_total = 0
    for s, section in enumerate(sections):
        rows = section.get("rows") if isinstance(section, dict) else None
        if not isinstance(rows, list) or not rows:
            return f"Param interactive['action']['sections'][{s}]['rows'] is required."
        if len(sections) > 1 and (
            problem := _text_problem(section.get("title"), f"sections[{s}]['title']", 24)
        ):
            return problem
        for r, row in enumerate(rows):
            where = f"interactive['action']['sections'][{s}]['rows'][{r}]"
            if not isinstance(row, dict):
                return f"Param {where} must be an object."
            if problem := _text_problem(row.get("title"), f"{where}['title']", 24):
                return problem
            if problem := _text_problem(row.get("id"), f"{where}['id']", 200):
                return problem
            if problem := _text_problem(
                row.get("description"), f"{where}['description']", 72, required=False
            ):
                return problem
            if row["id"] in ids:
                return "Row ids must be unique."
            ids.add(row["id"])
        rows_total += len(rows)
    if rows_total > 10:
        return "A list message may have at most 10 rows in all."
    return None
