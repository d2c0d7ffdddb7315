"""Google Cloud clients, created once per instance and only when first used.

A function instance serves many requests (on several threads), and creating a client costs a
channel, credentials and, on a cold start, a noticeable slice of the first request. Each factory
is cached, and its import stays inside it so a function pays only for the clients it uses.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from shared.config import settings

if TYPE_CHECKING:
    from google.cloud import firestore, pubsub_v1, storage


@functools.cache
def firestore_client() -> firestore.Client:
    from google.cloud import firestore

    return firestore.Client(project=settings().google_cloud_project or None)


@functools.cache
def publisher_client() -> pubsub_v1.PublisherClient:
    from google.cloud import pubsub_v1

    # One message per batch: each job is published while a webhook or a job waits for it,
    # so the default 10 ms batching delay would be pure added latency.
    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_messages=1, max_latency=0.0)
    )


@functools.cache
def storage_client() -> storage.Client:
    from google.cloud import storage

    return storage.Client(project=settings().google_cloud_project or None)
