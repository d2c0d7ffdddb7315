"""Jobs between the functions: published to Pub/Sub, read back out of the CloudEvent.

A job carries identifiers only (never media bytes: an event delivered to a gen2 function is at
most 512 KB). `published_at`, stamped on every publish, lets a consumer settle a job that has
been lost for longer than any redelivery could take instead of looping on it forever; a job
published again (a retry, a dead letter replayed) is stamped anew.

Pub/Sub delivers a job until a delivery answers 2xx, waiting longer after each failed one (the
subscription's retry policy), and after `max_delivery_attempts` moves it to the topic's
dead-letter topic, where it waits on a pull subscription (`dead_letter_subscription`) for an
operator to replay it. `redelivery_horizon_seconds` is how long that can take at most.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from werkzeug.exceptions import Conflict

if TYPE_CHECKING:
    from google.cloud import pubsub_v1

PUBLISH_TIMEOUT = 5.0
PUBLISH_RETRY = Retry(
    predicate=if_exception_type(gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError),
    initial=0.1,
    maximum=1.0,
    timeout=PUBLISH_TIMEOUT,
)


DEAD_LETTER_SUFFIX = "-dead-letter"


class UnusableJob(ValueError):
    """A job that can never be processed: it is logged and acknowledged, not retried."""


class Redeliver(Conflict):
    """The job cannot be done yet, through nobody's fault: deliver it again after the backoff.

    Raised out of a function, it answers Pub/Sub's push with 409, which Pub/Sub takes as a
    negative acknowledgement like any other non-2xx; a 4xx, so the function's 5xx rate (and its
    alert) counts only real failures.
    """

    def __init__(self, why: str) -> None:
        super().__init__(description=why)


def dead_letter_topic(topic: str) -> str:
    """The topic Pub/Sub moves a job of `topic` to after its last delivery (terraform/pubsub.tf)."""
    return topic + DEAD_LETTER_SUFFIX


def dead_letter_subscription(topic: str) -> str:
    """The pull subscription that keeps the dead letters of `topic` (named like their topic)."""
    return topic + DEAD_LETTER_SUFFIX


def backoff_seconds(redelivery: int, minimum: float, maximum: float) -> float:
    """Pub/Sub's wait before the `redelivery`-th redelivery of a job (1 = the first), as its
    retry policy describes it: exponential from `minimum`, doubling, never above `maximum`. Best
    effort on Pub/Sub's side: a wait may come out shorter or longer."""
    return min(maximum, minimum * 2 ** (redelivery - 1))


def redelivery_horizon_seconds(deliveries: int, ack_deadline: float, maximum_backoff: float) -> float:
    """The longest a job can still be delivered after it was published: each of its `deliveries`
    running until the ack deadline, with the longest backoff before every redelivery."""
    return deliveries * ack_deadline + (deliveries - 1) * maximum_backoff


@dataclass(frozen=True)
class Job:
    conversation_id: str
    message_id: str = ""  # the inbound message the job is about ("" = look at the whole conversation)
    reason: str = (
        "inbound"  # inbound | media_ready | retry | follow_up | resume | reengage | record (never answered)
    )
    published_at: str = ""  # ISO 8601, set on publish

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()


class JobBus:
    """Publishing jobs to this project's topics (topics are named by their short name)."""

    def __init__(self, publisher: Callable[[], pubsub_v1.PublisherClient], project: str) -> None:
        self._publisher = publisher  # created on first publish, not when the bus is
        self.project = project

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{topic}"

    def publish_async(self, topic: str, job: Job) -> Any:
        """Start publishing; returns the future (its result is the Pub/Sub message id)."""
        stamped = Job(job.conversation_id, job.message_id, job.reason, datetime.now(UTC).isoformat())
        return self._publisher().publish(
            self.topic_path(topic),
            stamped.encode(),
            retry=PUBLISH_RETRY,
            timeout=PUBLISH_TIMEOUT,
            conversation_id=job.conversation_id,
        )

    def publish(self, topic: str, job: Job) -> str:
        """Publish and wait for Pub/Sub's acknowledgement (a function's CPU may be throttled once it returns)."""
        return self.publish_async(topic, job).result(timeout=PUBLISH_TIMEOUT * 2)


@dataclass(frozen=True)
class ReceivedJob:
    job: Job
    pubsub_message_id: str
    published_at: datetime

    def age_seconds(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.published_at).total_seconds()


def read_job(event_data: Any, event_time: str | None = None) -> ReceivedJob:
    """The job inside a Pub/Sub CloudEvent (Eventarc or a raw push converted by functions-framework)."""
    if not isinstance(event_data, Mapping) or not isinstance(event_data.get("message"), Mapping):
        raise UnusableJob("the event has no Pub/Sub message")
    message = event_data["message"]
    try:
        payload = json.loads(base64.b64decode(message.get("data") or "", validate=True))
    except (binascii.Error, ValueError) as exc:
        raise UnusableJob(f"the message data is not base64 JSON ({exc})") from None
    if not isinstance(payload, Mapping) or not isinstance(payload.get("conversation_id"), str):
        raise UnusableJob("the job has no conversation_id")
    try:
        job = Job(**{k: str(v) for k, v in payload.items() if k in Job.__dataclass_fields__})
    except TypeError as exc:
        raise UnusableJob(str(exc)) from None
    published = (
        _parse_time(job.published_at) or _parse_time(message.get("publishTime")) or _parse_time(event_time)
    )
    return ReceivedJob(job, str(message.get("messageId") or ""), published or datetime.now(UTC))


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- dead letters ------------------------------------------------------------------------------------

# What Pub/Sub adds to a message it dead-letters.
DELIVERY_COUNT_ATTRIBUTE = "CloudPubSubDeadLetterSourceDeliveryCount"
DEAD_LETTER_PULL_TIMEOUT = 10.0
DEAD_LETTER_PULLS = 5  # pulls of one look: a pull may return only some of what waits


@dataclass(frozen=True)
class DeadLetter:
    """A job Pub/Sub gave up delivering, as it waits on its dead-letter subscription."""

    topic: str  # the job topic it was published to
    pubsub_message_id: str
    ack_id: str
    job: Job | None  # None when the payload cannot be read
    problem: str  # why not, when it cannot
    dead_since: datetime | None  # when Pub/Sub moved it
    deliveries: int | None  # how often Pub/Sub had tried it


class DeadLetters:
    """The dead letters of the job topics: looked at without taking them, or taken to be replayed.

    Pulling a message leases it to the puller for the subscription's ack deadline; a look gives
    every lease back at once, so a dead letter stays on its subscription (and the dead-letter
    alert stays up) until it is replayed and acknowledged.
    """

    def __init__(self, subscriber: Callable[[], pubsub_v1.SubscriberClient], project: str) -> None:
        self._subscriber = subscriber
        self.project = project

    def subscription_path(self, topic: str) -> str:
        return f"projects/{self.project}/subscriptions/{dead_letter_subscription(topic)}"

    def look(self, topic: str, limit: int = 100) -> list[DeadLetter]:
        """The dead letters of `topic` (up to `limit`), left on their subscription."""
        letters = self._pull(topic, limit)
        self.give_back(topic, letters)
        return letters

    def take(self, topic: str, message_ids: set[str] | None, limit: int = 100) -> list[DeadLetter]:
        """The dead letters with these Pub/Sub message ids (all, for None), leased to the caller,
        who acknowledges (`done`) or gives back each one; the others are given back at once."""
        letters = self._pull(topic, limit)
        wanted = [d for d in letters if message_ids is None or d.pubsub_message_id in message_ids]
        self.give_back(topic, [d for d in letters if d not in wanted])
        return wanted

    def done(self, topic: str, letters: list[DeadLetter]) -> None:
        if letters:
            self._subscriber().acknowledge(
                request={
                    "subscription": self.subscription_path(topic),
                    "ack_ids": [d.ack_id for d in letters],
                },
                timeout=DEAD_LETTER_PULL_TIMEOUT,
            )

    def give_back(self, topic: str, letters: list[DeadLetter]) -> None:
        if letters:
            self._subscriber().modify_ack_deadline(
                request={
                    "subscription": self.subscription_path(topic),
                    "ack_ids": [d.ack_id for d in letters],
                    "ack_deadline_seconds": 0,
                },
                timeout=DEAD_LETTER_PULL_TIMEOUT,
            )

    def _pull(self, topic: str, limit: int) -> list[DeadLetter]:
        subscriber = self._subscriber()
        found: dict[str, DeadLetter] = {}
        for _ in range(DEAD_LETTER_PULLS):
            response = subscriber.pull(
                request={
                    "subscription": self.subscription_path(topic),
                    "max_messages": max(limit - len(found), 1),
                    "return_immediately": True,
                },
                timeout=DEAD_LETTER_PULL_TIMEOUT,
            )
            if not response.received_messages:
                break
            for received in response.received_messages:
                found.setdefault(received.message.message_id, _dead_letter(topic, received))
            if len(found) >= limit:
                break
        return list(found.values())


def _dead_letter(topic: str, received: Any) -> DeadLetter:
    message = received.message
    attributes = dict(message.attributes)
    try:
        data = base64.b64encode(message.data).decode()
        job, problem = read_job({"message": {"data": data}}).job, ""
    except UnusableJob as exc:
        job, problem = None, str(exc)
    count = attributes.get(DELIVERY_COUNT_ATTRIBUTE)
    published = message.publish_time
    return DeadLetter(
        topic=topic,
        pubsub_message_id=message.message_id,
        ack_id=received.ack_id,
        job=job,
        problem=problem,
        dead_since=datetime.fromtimestamp(published.timestamp(), UTC) if published else None,
        deliveries=int(count) if count and count.isdigit() else None,
    )
