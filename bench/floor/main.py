"""The benchmark's floor: the least an HTTP function can do per WhatsApp message.

One Firestore `create()` and one Pub/Sub publish (awaited, one message per batch, like the
webhook's publisher), with both clients created once per instance. Whatever the webhook costs
beyond this is its own code: parsing, signature, bookkeeping writes and logging.
"""

from __future__ import annotations

import functools
import os
import uuid

import flask
import functions_framework
from google.cloud import firestore, pubsub_v1

COLLECTION = "bench_floor"
PUBLISH_TIMEOUT = 5.0


@functools.cache
def _project() -> str:
    return os.environ["GOOGLE_CLOUD_PROJECT"]


@functools.cache
def _db() -> firestore.Client:
    return firestore.Client(project=_project())


@functools.cache
def _publisher() -> pubsub_v1.PublisherClient:
    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_messages=1, max_latency=0.0)
    )


@functools.cache
def _topic() -> str:
    return _publisher().topic_path(_project(), os.environ.get("REPLY_TOPIC", "whatsapp-reply"))


@functions_framework.http
def floor(request: flask.Request) -> flask.Response:
    body = request.get_data()
    doc_id = uuid.uuid4().hex
    _db().collection(COLLECTION).document(doc_id).create({"size": len(body)}, timeout=PUBLISH_TIMEOUT)
    _publisher().publish(_topic(), doc_id.encode()).result(timeout=PUBLISH_TIMEOUT * 2)
    return flask.Response("ok", status=200, mimetype="text/plain")
