"""Messages shown after an action (post, redirect, get): chosen from a fixed list by a code in the URL.

Nothing the browser sends is echoed into the notice except a numeric WhatsApp error code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    level: str  # a Bootstrap alert colour
    text: str


NOTICES = {
    "paused": Notice("info", "The AI is paused: it will not answer this conversation until you resume it."),
    "resumed": Notice("success", "The AI is answering this conversation again."),
    "cleared": Notice("success", "The conversation no longer needs attention."),
    "sent": Notice("success", "Your reply was sent."),
    "duplicate": Notice("warning", "This reply was already sent (the form was submitted twice)."),
    "empty": Notice("warning", "Write a message before sending."),
    "too_long": Notice("warning", "WhatsApp accepts at most 4096 characters in one message."),
    "refused": Notice("danger", "WhatsApp refused the message."),
    "unknown": Notice(
        "warning",
        "WhatsApp did not answer in time: the message may or may not have been delivered. "
        "It was not sent again; check with the customer before writing it again.",
    ),
    "opted_out": Notice(
        "warning",
        "Not sent: the customer opted out (wrote STOP). You can write again once they write START.",
    ),
    "erase_unconfirmed": Notice(
        "warning", "Nothing was deleted: type the customer's number exactly as shown to confirm."
    ),
    "retry_queued": Notice("success", "The message was queued for the AI again."),
    "resent": Notice("success", "The message was sent again."),
    "not_failed": Notice("info", "Nothing to retry: the message was already retried or has not failed."),
    "in_progress": Notice(
        "info", "The message is still being worked on; Retry is offered if it waits 10 minutes unanswered."
    ),
    "busy": Notice("warning", "The message changed meanwhile; look at it again before retrying."),
    "queue_failed": Notice("danger", "The retry could not be queued; try again in a moment."),
    "not_found": Notice("warning", "That message or conversation no longer exists."),
    "replayed": Notice("success", "Published again with a fresh stamp: its message will be answered."),
    "replayed_settled": Notice("info", "Its message needs nothing more; the dead letter was removed."),
    "replay_gone": Notice(
        "info", "That dead letter is no longer waiting: it was replayed or handled already."
    ),
    "settings_saved": Notice("success", "Saved: the next reply on this number uses these settings."),
    "knowledge_added": Notice(
        "success", "The document was added: the assistant answers from it within half a minute."
    ),
    "knowledge_replaced": Notice(
        "success", "The document was replaced: the assistant answers from the new one."
    ),
    "knowledge_removed": Notice("success", "The document and its passages were removed."),
    "knowledge_too_large": Notice("warning", "That file is larger than the knowledge base takes."),
    "replay_failed": Notice(
        "danger", "It could not be published again and is still waiting; try again in a moment."
    ),
    "synced": Notice("success", "The templates were synced from WhatsApp."),
    "sync_failed": Notice("danger", "WhatsApp did not give the template list; try again in a moment."),
    "no_waba": Notice(
        "warning", "Set WHATSAPP_BUSINESS_ACCOUNT_ID to the business account whose templates to sync."
    ),
    "template_sent": Notice("success", "The template was sent."),
    "template_missing": Notice("warning", "Choose an approved template before sending."),
    "template_values": Notice("warning", "Fill in every value of the template before sending."),
    "window_closed": Notice(
        "warning", "The 24-hour window is closed: only an approved template can reach the customer."
    ),
}


def notice_from(args: Mapping[str, str]) -> Notice | None:
    notice = NOTICES.get(args.get("notice", ""))
    if notice is None:
        return None
    code = args.get("code", "")
    if notice is NOTICES["refused"] and code.isdigit() and len(code) <= 9:
        return Notice(notice.level, f"WhatsApp refused the message (error {code}).")
    return notice
