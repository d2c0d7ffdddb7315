"""Who is asking: the operator behind a request, by IAP's header or by the local login cookie."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import flask

from shared.dashboard.auth.iap import HEADER, IapError, IapKeys, IapVerifier, fetch_jwks
from shared.dashboard.auth.session import PasswordSessions
from shared.dashboard.config import AuthMode, DashboardConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Operator:
    name: str  # the email behind IAP, "operator" for the local login
    via: AuthMode


class Authenticator:
    def __init__(self, config: DashboardConfig) -> None:
        self.mode = config.auth_mode
        self._allowed = config.operator_emails
        self.sessions: PasswordSessions | None = None
        self._iap: IapVerifier | None = None
        if self.mode is AuthMode.IAP:
            url = config.iap_jwks_url
            self._iap = IapVerifier(config.iap_audience, IapKeys(lambda: fetch_jwks(url)))
        else:
            self.sessions = PasswordSessions(config.password, config.session_secret)

    def operator(self, request: flask.Request) -> Operator | None:
        if self._iap is not None:
            return self._iap_operator(request, self._iap)
        assert self.sessions is not None
        name = self.sessions.operator(request)
        return Operator(name, AuthMode.PASSWORD) if name else None

    def _iap_operator(self, request: flask.Request, verifier: IapVerifier) -> Operator | None:
        try:
            identity = verifier.verify(request.headers.get(HEADER))
        except IapError as exc:
            log.warning("IAP assertion refused", extra={"reason": str(exc), "path": request.path})
            return None
        if identity.email not in self._allowed:
            log.warning("IAP user is not an operator", extra={"email": identity.email})
            return None
        return Operator(identity.email, AuthMode.IAP)
