"""Behind Identity-Aware Proxy: the signed header is verified (signature, audience, issuer,
expiry) against keys from IAP_JWKS_URL, here a local key server with keys the test made."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from local.servers import RunningServer, start_server
from shared.dashboard.config import IAP_ISSUER
from tests.support.seed import conversation, store_inbound

AUDIENCE = "/projects/123456/global/backendServices/987654"
OPERATOR = "ops@example.com"
KID = "test-key-1"


class KeyServer:
    """Serves a JWKS document like https://www.gstatic.com/iap/verify/public_key-jwk."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.requests = 0

    def jwks(self) -> dict[str, Any]:
        jwk = ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": KID, "alg": "ES256", "use": "sig"}]}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.requests += 1
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(self.jwks()).encode()]


@pytest.fixture
def key_server() -> Iterator[RunningServer[KeyServer]]:
    keys = KeyServer()
    server = start_server(keys, keys, name="iap-keys")
    yield server
    server.stop()


@pytest.fixture
def iap_app(make_app, key_server):
    return make_app(
        IAP_AUDIENCE=AUDIENCE,
        OPERATOR_EMAILS=f"someone@example.com, {OPERATOR.upper()}",
        IAP_JWKS_URL=key_server.url + "/public_key-jwk",
        DASHBOARD_PASSWORD=None,
        DASHBOARD_SESSION_SECRET=None,
    )


def assertion(
    key: ec.EllipticCurvePrivateKey,
    *,
    email: str = OPERATOR,
    audience: str = AUDIENCE,
    issuer: str = IAP_ISSUER,
    expires_in: int = 600,
    kid: str = KID,
    algorithm: str = "ES256",
) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "sub": "accounts.google.com:1234", "email": email}
    claims |= {"iat": now - 5, "exp": now + expires_in}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims: dict[str, Any], secret: bytes) -> str:
    signing_input = ".".join(
        _b64(json.dumps(part).encode()) for part in ({"alg": "HS256", "typ": "JWT", "kid": KID}, claims)
    )
    return f"{signing_input}.{_b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def get(app, token: str | None, path: str = "/") -> Any:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["x-goog-iap-jwt-assertion"] = token
    return app.test_client().get(path, headers=headers)


def test_a_valid_assertion_of_an_operator_opens_the_dashboard(iap_app, key_server) -> None:
    response = get(iap_app, assertion(key_server.state.private_key))
    assert response.status_code == 200
    assert OPERATOR in response.get_data(as_text=True)


def test_a_request_without_the_iap_header_is_refused(iap_app) -> None:
    assert get(iap_app, None).status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"audience": "/projects/123456/global/backendServices/111"},
        {"issuer": "https://accounts.google.com"},
        {"expires_in": -120},
        {"email": "intruder@example.com"},
        {"kid": "unknown-key"},
    ],
    ids=["wrong-audience", "wrong-issuer", "expired", "not-an-operator", "unknown-key"],
)
def test_an_assertion_for_someone_else_or_out_of_date_is_refused(iap_app, key_server, change) -> None:
    assert get(iap_app, assertion(key_server.state.private_key, **change)).status_code == 401


def test_an_assertion_signed_with_another_key_is_refused(iap_app) -> None:
    forger = ec.generate_private_key(ec.SECP256R1())
    assert get(iap_app, assertion(forger)).status_code == 401


def test_unsigned_or_symmetric_assertions_are_refused(iap_app, key_server) -> None:
    now = int(time.time())
    claims = {"iss": IAP_ISSUER, "aud": AUDIENCE, "email": OPERATOR, "iat": now, "exp": now + 600}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": KID})
    # The classic confusion attack: HS256 "signed" with the public key, which anyone can read.
    public_pem = key_server.state.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hmac_signed = hs256(claims, public_pem)
    for token in (unsigned, hmac_signed, "not.a.jwt", ""):
        assert get(iap_app, token).status_code == 401


def test_forged_key_ids_do_not_make_the_dashboard_hammer_the_key_server(iap_app, key_server) -> None:
    for i in range(5):
        get(iap_app, assertion(key_server.state.private_key, kid=f"forged-{i}"))
    assert key_server.state.requests <= 1


def test_behind_iap_there_is_no_password_login(iap_app) -> None:
    assert get(iap_app, None, "/login").status_code == 404


def test_an_operator_behind_iap_acts_with_a_csrf_token(iap_app, key_server, firestore_db) -> None:
    conv, _ = store_inbound(firestore_db, wa_id="15550002222", name="Ana")
    client = iap_app.test_client()
    client.environ_base["HTTP_X_GOOG_IAP_JWT_ASSERTION"] = assertion(key_server.state.private_key)
    assert client.get(f"/conversations/{conv}").status_code == 200
    token = client.get_cookie("dashboard_csrf").value
    assert client.post(f"/conversations/{conv}/pause").status_code == 403
    response = client.post(f"/conversations/{conv}/pause", data={"csrf_token": token})
    assert response.status_code == 303
    stored = conversation(firestore_db, conv)
    assert stored["ai_paused"] is True
    assert stored["ai_paused_by"] == OPERATOR


def test_an_operators_first_request_through_iap_is_their_login_in_the_audit_trail(
    iap_app, key_server, caplog
) -> None:
    client = iap_app.test_client()
    headers = {"x-goog-iap-jwt-assertion": assertion(key_server.state.private_key)}
    with caplog.at_level(logging.INFO, logger="shared.dashboard.audit"):
        first = client.get("/", headers=headers)
        client.get("/conversations", headers=headers)  # the same browser: signed in already
    logins = [r.audit for r in caplog.records if getattr(r, "audit", {}).get("action") == "login"]
    assert [(a["operator"], a["via"]) for a in logins] == [(OPERATOR, "iap")]
    assert "__Host-signed-in=" in first.headers["Set-Cookie"] or any(
        "__Host-signed-in=" in v for v in first.headers.getlist("Set-Cookie")
    )
