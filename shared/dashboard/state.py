"""What the dashboard's routes share within an instance: config, authentication, clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import flask
from google.cloud import firestore

from shared.dashboard.actions import Publish
from shared.dashboard.config import DashboardConfig
from shared.dashboard.operators import Authenticator, Operator
from shared.dashboard.sending import RecordOutbound, TextSender
from shared.dashboard.throttle import LoginThrottle
from shared.media.storage import MediaStorage

EXTENSION = "dashboard"


@dataclass(frozen=True)
class Services:
    """The outside world, created on first use (a cold start pays only for what it touches)."""

    firestore: Callable[[], firestore.Client]
    media_storage: Callable[[], MediaStorage]
    whatsapp: Callable[[], TextSender]
    publish: Publish
    record_outbound: RecordOutbound

    @classmethod
    def default(cls, media_bucket: str) -> Services:
        from shared.bus import publish
        from shared.clients import firestore_client, storage_client
        from shared.store.outbound import record_outbound
        from shared.whatsapp.client import whatsapp_client

        return cls(
            firestore=firestore_client,
            media_storage=lambda: MediaStorage(storage_client(), media_bucket),
            whatsapp=whatsapp_client,
            publish=publish,
            record_outbound=record_outbound,
        )


@dataclass(frozen=True)
class DashboardState:
    config: DashboardConfig
    auth: Authenticator
    throttle: LoginThrottle
    services: Services

    @property
    def db(self) -> firestore.Client:
        return self.services.firestore()


def current() -> DashboardState:
    return flask.current_app.extensions[EXTENSION]


def operator() -> Operator:
    """The authenticated operator of this request (the guard has run before any route)."""
    return flask.g.operator
