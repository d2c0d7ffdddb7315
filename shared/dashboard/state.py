"""What the dashboard's routes share within an instance: config, authentication, clients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import flask
from google.cloud import firestore

from shared.clients import Clients
from shared.dashboard.audit import AuditRecord, AuditTrail
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
    audit: AuditTrail

    @property
    def db(self) -> firestore.Client:
        return self.clients.firestore


def current() -> DashboardState:
    return flask.current_app.extensions[EXTENSION]


def operator() -> Operator:
    """The authenticated operator of this request (the guard has run before any route)."""
    return flask.g.operator


def audit(
    action: str, target: str, *, outcome: str = "done", detail: str = "", who: Operator | None = None
) -> None:
    """Append the operator's action to the audit trail (raises AuditUnavailable when it cannot)."""
    by = who or operator()
    current().audit.record(
        AuditRecord(
            at=datetime.now(UTC),
            operator=by.name,
            action=action,
            target=target,
            outcome=outcome,
            detail=detail,
            via=by.via.value,
        )
    )
