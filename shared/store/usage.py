"""What customers and business numbers used, in Firestore, so limits hold across every instance.

**Per customer** (`customer_usage/{conversation_id}`): the messages of the current UTC minute and
hour and the model tokens of the current UTC day. A burst is counted and judged in one
transaction before the model is asked (`count_burst`); the reply job holds the conversation's
lease while it does, so the transaction rarely contends. Its verdict is stored with the reply
it was made for, so a redelivered job gets the same verdict and counts nothing twice. Windows
are fixed (a minute, an hour, a day on the clock), so a customer may send up to twice a limit
across a boundary: simple, and enough to stop a flood.

**Per business number** (`number_spend/{phone_number_id}_{day}_{shard}`): what the model cost that
UTC day, priced from the tokens each answer recorded, added in the batch that saves the answer.
A busy number answers many customers a second, so the day is split into `stats.SHARDS`
documents, read back by key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from google.cloud import firestore

from shared.config import Settings
from shared.store.limits import Limits
from shared.store.schema import CALL_TIMEOUT, customer_usage_ref, number_spend_ref
from shared.store.stats import SHARDS, Writes, shard_of


class LimitCode(StrEnum):
    MESSAGES_PER_MINUTE = "messages_per_minute"
    MESSAGES_PER_HOUR = "messages_per_hour"
    TOKENS_PER_DAY = "tokens_per_day"
    SPEND_CAP = "spend_cap"  # the business number's, not the customer's

    @property
    def title(self) -> str:
        return {
            LimitCode.MESSAGES_PER_MINUTE: "Over the customer's message rate (per minute)",
            LimitCode.MESSAGES_PER_HOUR: "Over the customer's message rate (per hour)",
            LimitCode.TOKENS_PER_DAY: "Over the customer's daily token budget",
            LimitCode.SPEND_CAP: "The business number reached its daily spend cap",
        }[self]


@dataclass(frozen=True)
class LimitHit:
    code: LimitCode
    until: datetime  # when the window that holds the limit ends
    notice_due: bool  # the customer has not been told about this limit in this window

    def as_reason(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "title": self.code.title,
            "detail": f"No model call until {self.until:%Y-%m-%d %H:%M} UTC.",
            "until": self.until,
        }


def _minute(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M")


def _hour(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H")


def _day(now: datetime) -> str:
    return now.strftime("d%Y%m%d")  # a map key without dashes, usable in a field path


def _end(code: LimitCode, now: datetime) -> datetime:
    start = now.astimezone(UTC).replace(second=0, microsecond=0)
    if code is LimitCode.MESSAGES_PER_MINUTE:
        return start + timedelta(minutes=1)
    if code is LimitCode.MESSAGES_PER_HOUR:
        return start.replace(minute=0) + timedelta(hours=1)
    return start.replace(hour=0, minute=0) + timedelta(days=1)


def _notice_window(code: LimitCode, now: datetime) -> str:
    # A customer flooding minute after minute is told once an hour, not once a minute.
    return f"{code.value}:{_day(now) if code is LimitCode.TOKENS_PER_DAY else _hour(now)}"


def count_burst(
    db: firestore.Client,
    conversation_id: str,
    *,
    reply_id: str,
    messages: int,
    limits: Limits,
    now: datetime | None = None,
) -> LimitHit | None:
    """Count a burst of `messages` against the customer's limits; the limit it is over, if any.

    Messages are counted whether or not they are answered: a customer who keeps flooding stays
    over the rate. A customer over the daily token budget is judged on tokens already spent
    (an answer's cost is known only after it), so one answer may cross the budget, none after.
    """
    ref = customer_usage_ref(db, conversation_id)
    now = now or datetime.now(UTC)

    @firestore.transactional
    def attempt(tx: firestore.Transaction) -> LimitHit | None:
        data = ref.get(transaction=tx).to_dict() or {}
        last = data.get("last") or {}
        if last.get("reply_id") == reply_id:  # a redelivery of the job: the verdict already made
            code = last.get("code")
            return LimitHit(LimitCode(code), last["until"], bool(last.get("notice_due"))) if code else None
        minute = data.get("minute") or {}
        hour = data.get("hour") or {}
        in_minute = (minute.get("messages") or 0) if minute.get("window") == _minute(now) else 0
        in_hour = (hour.get("messages") or 0) if hour.get("window") == _hour(now) else 0
        tokens = {k: v for k, v in (data.get("tokens") or {}).items() if k == _day(now)}
        code: LimitCode | None = None
        if limits.tokens_per_day and tokens.get(_day(now), 0) >= limits.tokens_per_day:
            code = LimitCode.TOKENS_PER_DAY
        elif limits.messages_per_minute and in_minute + messages > limits.messages_per_minute:
            code = LimitCode.MESSAGES_PER_MINUTE
        elif limits.messages_per_hour and in_hour + messages > limits.messages_per_hour:
            code = LimitCode.MESSAGES_PER_HOUR
        hit = None
        notice_window = data.get("notice_window")
        if code is not None:
            window = _notice_window(code, now)
            hit = LimitHit(code, _end(code, now), notice_due=notice_window != window)
            notice_window = window
        tx.set(
            ref,
            {
                "minute": {"window": _minute(now), "messages": in_minute + messages},
                "hour": {"window": _hour(now), "messages": in_hour + messages},
                "tokens": tokens,  # today's only: yesterday's are dropped here
                "notice_window": notice_window,
                "last": {
                    "reply_id": reply_id,
                    "code": hit.code.value if hit else None,
                    "until": hit.until if hit else None,
                    "notice_due": bool(hit and hit.notice_due),
                },
                "updated_at": now,
            },
        )
        return hit

    return attempt(db.transaction())


# -- spend -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpend:
    """One answer's tokens (every one billed: input, output, thinking) and what they cost."""

    tokens: int
    usd: float

    @classmethod
    def of(
        cls,
        settings: Settings,
        *,
        input_tokens: int | None,
        output_tokens: int | None,
        thinking_tokens: int | None,
    ) -> ModelSpend:
        # Cached input is billed lower; pricing it as plain input keeps the cap on the safe side.
        tokens_in = int(input_tokens or 0)
        tokens_out = int(output_tokens or 0) + int(thinking_tokens or 0)
        usd = (
            tokens_in * settings.model_input_usd_per_million_tokens
            + tokens_out * settings.model_output_usd_per_million_tokens
        ) / 1_000_000
        return cls(tokens_in + tokens_out, usd)


def _spend_ref(
    db: firestore.Client, phone_number_id: str, day: str, shard: int
) -> firestore.DocumentReference:
    return number_spend_ref(db, f"{phone_number_id}_{day}_{shard:02d}")


def add_model_spend(
    writes: Writes,
    db: firestore.Client,
    *,
    conversation_id: str,
    phone_number_id: str,
    spend: ModelSpend,
    shard_key: str,
    now: datetime | None = None,
) -> None:
    """An answer's tokens on its customer's day and its cost on its number's day, as writes of the
    caller's batch (the one that saves the answer, so each is counted exactly once)."""
    now = now or datetime.now(UTC)
    day = _day(now)
    writes.set(
        customer_usage_ref(db, conversation_id),
        {"tokens": {day: firestore.Increment(spend.tokens)}},
        merge=True,
    )
    writes.set(
        _spend_ref(db, phone_number_id, day, shard_of(shard_key)),
        {
            "phone_number_id": phone_number_id,
            "day": day,
            "usd": firestore.Increment(spend.usd),
            "tokens": firestore.Increment(spend.tokens),
            "answers": firestore.Increment(1),
        },
        merge=True,
    )


def spend_refs(
    db: firestore.Client, phone_number_id: str, now: datetime | None = None
) -> list[firestore.DocumentReference]:
    """The shard documents of the number's spend this UTC day, to read by key."""
    day = _day(now or datetime.now(UTC))
    return [_spend_ref(db, phone_number_id, day, shard) for shard in range(SHARDS)]


def spend_in(snaps: Iterable[firestore.DocumentSnapshot]) -> float:
    """The spend that shard documents (as read) add up to."""
    return sum(float((snap.to_dict() or {}).get("usd") or 0) for snap in snaps if snap.exists)


def spend_today(db: firestore.Client, phone_number_id: str, now: datetime | None = None) -> float:
    """What the model cost the number this UTC day."""
    return spend_in(db.get_all(spend_refs(db, phone_number_id, now), timeout=CALL_TIMEOUT))


def over_spend_cap(spent: float, limits: Limits, now: datetime | None = None) -> LimitHit | None:
    """The number's cap, when what it spent today has reached it."""
    if not limits.spend_cap_usd_per_day or spent < limits.spend_cap_usd_per_day:
        return None
    return LimitHit(
        LimitCode.SPEND_CAP, _end(LimitCode.SPEND_CAP, now or datetime.now(UTC)), notice_due=False
    )
