"""Dead letters as Pub/Sub leaves them: a job, stamped when it was first published, moved onto its
topic's dead-letter topic with the attributes Pub/Sub adds, waiting on the pull subscription."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

from shared.bus import DELIVERY_COUNT_ATTRIBUTE, Job, dead_letter_subscription, dead_letter_topic


class DeadLetterBox:
    """The dead-letter topics and subscriptions of some job topics, on the Pub/Sub emulator."""

    def __init__(self, project: str, topics: list[str], *, create: bool = True) -> None:
        from google.cloud import pubsub_v1

        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.project = project
        self.topics = topics
        if create:
            self.create()

    def create(self) -> None:
        from google.api_core import exceptions as gexc

        for topic in self.topics:
            path = self.publisher.topic_path(self.project, dead_letter_topic(topic))
            with contextlib.suppress(gexc.AlreadyExists):
                self.publisher.create_topic(request={"name": path})
            with contextlib.suppress(gexc.AlreadyExists):
                self.subscriber.create_subscription(
                    request={"name": self.subscription(topic), "topic": path, "ack_deadline_seconds": 60}
                )

    def delete(self) -> None:
        from google.api_core import exceptions as gexc

        for topic in self.topics:
            with contextlib.suppress(gexc.NotFound):
                self.subscriber.delete_subscription(request={"subscription": self.subscription(topic)})
            with contextlib.suppress(gexc.NotFound):
                self.publisher.delete_topic(
                    request={"topic": self.publisher.topic_path(self.project, dead_letter_topic(topic))}
                )

    def subscription(self, topic: str) -> str:
        return self.subscriber.subscription_path(self.project, dead_letter_subscription(topic))

    def add(self, topic: str, job: Job, *, published_hours_ago: float = 4.0, deliveries: int = 10) -> str:
        """A job that failed every delivery since it was published hours ago; returns its message id."""
        stamped = Job(
            job.conversation_id,
            job.message_id,
            job.reason,
            (datetime.now(UTC) - timedelta(hours=published_hours_ago)).isoformat(),
        )
        future = self.publisher.publish(
            self.publisher.topic_path(self.project, dead_letter_topic(topic)),
            stamped.encode(),
            conversation_id=job.conversation_id,
            **{
                DELIVERY_COUNT_ATTRIBUTE: str(deliveries),
                "CloudPubSubDeadLetterSourceSubscription": f"{topic}-push",
            },
        )
        return future.result(timeout=10)

    def waiting(self, topic: str) -> list[dict]:
        """What waits on the dead-letter subscription (looked at, then given back)."""
        response = self.subscriber.pull(
            request={
                "subscription": self.subscription(topic),
                "max_messages": 100,
                "return_immediately": True,
            },
            timeout=10,
        )
        if response.received_messages:
            self.subscriber.modify_ack_deadline(
                request={
                    "subscription": self.subscription(topic),
                    "ack_ids": [m.ack_id for m in response.received_messages],
                    "ack_deadline_seconds": 0,
                }
            )
        return [json.loads(m.message.data) for m in response.received_messages]
