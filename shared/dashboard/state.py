"""What the dashboard's routes share within an instance: config, authentication, clients."""

from __future__ import annotations

from dataclasses import dataclass

import flask
from google.cloud import firestore

from shared.clients import Clients
from shared.dashboard.auth.operators import Authenticator, Operator
from shared.dashboard.auth.throttle import LoginThrottle
from shared.dashboard.config import DashboardConfig

EXTENSION = "dashboard"


@dataclass(frozen=True)
class DashboardState:
    config: DashboardConfig
    auth: Authenticator
    throttle: LoginThrottle
    clients: Clients  # created on first use: a cold start pays only for what it touches

    @property
    def db(self) -> firestore.Client:
        return self.clients.firestore


def current() -> DashboardState:
    return flask.current_app.extensions[EXTENSION]


def operator() -> Operator:
    """The authenticated operator of this request (the guard has run before any route)."""
    return flask.g.operator
