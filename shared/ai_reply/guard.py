"""What happens to a burst before the model is asked: opt-out and opt-in first, then the limits.

One call (`before_model`) decides, for a burst the reply lease holder is about to answer:
- `ANSWER`: ask the model, as usual;
- `SAY`: send a fixed text instead (an opt-out or opt-in confirmation, a limit notice), once;
- `WITHHOLD`: send nothing and leave the burst unanswered, with the reason on each message.

Nothing here runs on the webhook's request path: the reply job does it, under the lease.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from google.cloud import firestore

from shared.ai_reply.keywords import Consent, Keyword, Keywords
from shared.ai_reply.wording import Wording, guess_language, text_of
from shared.config import Settings
from shared.store import consent, usage
from shared.store.limits import Limits, limits_in
from shared.store.schema import CALL_TIMEOUT, business_number_ref, conversation_ref

log = logging.getLogger(__name__)

KEYWORD_TYPES = frozenset({"text", "button", "interactive"})  # a typed word or a tapped "Stop promotions"
OPTED_OUT_REASON = {
    "code": "opted_out",
    "title": "The customer opted out",
    "detail": "Nothing is sent until they write START (or an equivalent) again.",
}
SPEND_CAP_EVENT = "spend_cap_reached"  # the log line terraform/monitoring.tf alerts on


class Step(StrEnum):
    ANSWER = "answer"
    SAY = "say"
    WITHHOLD = "withhold"


@dataclass(frozen=True)
class Verdict:
    step: Step
    text: str = ""
    wording: Wording | None = None
    reason: dict[str, Any] | None = None
    conversation: dict[str, Any] | None = None  # fields the conversation takes (why it is limited)

    @classmethod
    def answer(cls, conversation: dict[str, Any] | None = None) -> Verdict:
        return cls(Step.ANSWER, conversation=conversation)


def before_model(
    settings: Settings,
    db: firestore.Client,
    *,
    conversation_id: str,
    phone_number_id: str,
    reply_id: str,
    burst: list[dict[str, Any]],
) -> Verdict:
    recorded = record_keyword(settings, db, conversation_id, burst)
    if recorded is not None:
        change, keyword = recorded
        if change.confirm:
            wording = Wording.OPT_OUT_CONFIRMATION if change.opted_out else Wording.OPT_IN_CONFIRMATION
            return Verdict(Step.SAY, text_of(wording, keyword.language, settings), wording)
        if change.opted_out:
            return Verdict(Step.WITHHOLD, reason=OPTED_OUT_REASON)
        # START from someone who never opted out: an ordinary message.
    # What the checks need, in one batched read: the customer's consent, the number's limits
    # and what the number spent today.
    refs = [
        conversation_ref(db, conversation_id),
        business_number_ref(db, phone_number_id),
        *usage.spend_refs(db, phone_number_id),
    ]
    snaps = {snap.reference.path: snap for snap in db.get_all(refs, timeout=CALL_TIMEOUT)}
    conversation, number, *spend = (snaps[ref.path] for ref in refs)
    if not consent.may_message(conversation.to_dict() if conversation.exists else None):
        return Verdict(Step.WITHHOLD, reason=OPTED_OUT_REASON)
    limits = limits_in(number.to_dict() if number.exists else None, settings)
    return _limits(
        settings, db, conversation_id, phone_number_id, reply_id, burst, limits, usage.spend_in(spend)
    )


def keyword_in(keywords: Keywords, burst: list[dict[str, Any]]) -> tuple[dict[str, Any], Keyword] | None:
    """The last message of the burst that is an opt-out or opt-in keyword, with the keyword."""
    for message in reversed(burst):
        if message.get("type") in KEYWORD_TYPES and (keyword := keywords.match(message.get("text"))):
            return message, keyword
    return None


def record_keyword(
    settings: Settings, db: firestore.Client, conversation_id: str, burst: list[dict[str, Any]]
) -> tuple[consent.ConsentChange, Keyword] | None:
    """Record the opt-out or opt-in a burst holds, if any (also while the AI is paused)."""
    found = keyword_in(Keywords.from_settings(settings), burst)
    if found is None:
        return None
    message, keyword = found
    change = consent.record_consent(
        db,
        conversation_id,
        opted_out=keyword.consent is Consent.OPT_OUT,
        message_id=message["id"],
        keyword=keyword.word,
        at=message.get("received_at") or datetime.now(UTC),
    )
    log.info(
        "customer opted %s",
        "out" if change.opted_out else "in",
        extra={"conversation_id": conversation_id, "keyword": keyword.word},
    )
    return change, keyword


def _limits(
    settings: Settings,
    db: firestore.Client,
    conversation_id: str,
    phone_number_id: str,
    reply_id: str,
    burst: list[dict[str, Any]],
    limits: Limits,
    spent: float,
) -> Verdict:
    cap = usage.over_spend_cap(spent, limits)
    if cap is not None:
        log.error(
            "the business number reached its daily spend cap; the model is not called",
            extra={
                "event": SPEND_CAP_EVENT,
                "phone_number_id": phone_number_id,
                "conversation_id": conversation_id,
                "cap_usd": limits.spend_cap_usd_per_day,
            },
        )
        reason = cap.as_reason()
        # Operators answer by hand meanwhile: every conversation that asks is flagged.
        return Verdict(
            Step.WITHHOLD, reason=reason, conversation={"limited": reason, "needs_attention": True}
        )
    hit = usage.count_burst(db, conversation_id, reply_id=reply_id, messages=len(burst), limits=limits)
    if hit is None:
        return Verdict.answer({"limited": None})
    reason = hit.as_reason()
    log.warning(
        "customer over a limit; the model is not called",
        extra={"conversation_id": conversation_id, "limit": hit.code.value, "notice": hit.notice_due},
    )
    if not hit.notice_due:
        return Verdict(Step.WITHHOLD, reason=reason, conversation={"limited": reason})
    language = guess_language(str(m.get("text") or "") for m in burst)
    text = limits.notice.strip() or text_of(Wording.LIMIT_NOTICE, language, settings)
    return Verdict(Step.SAY, text, Wording.LIMIT_NOTICE, reason=reason, conversation={"limited": reason})
