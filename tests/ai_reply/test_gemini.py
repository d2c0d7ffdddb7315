"""The model call: asked as Gemini 3 guidance says, usage recorded in full, and every way the model
cannot be reached (Developer API or Vertex AI) ending as ModelUnavailable within the call's time."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions as auth_exceptions
from google.genai import types
from google.oauth2 import service_account

from local.emulators import free_port
from local.offline_gemini import THINKING_TOKENS, start_offline_gemini
from shared.ai_reply.budget import model_call_seconds
from shared.ai_reply.gemini import ModelRejected, ModelUnavailable, generate, model_failure
from shared.clients import make_genai_client
from shared.config import Settings

CONTENTS = [types.Content(role="user", parts=[types.Part.from_text(text="Do you open on Sunday?")])]


def settings(**env: str) -> Settings:
    return Settings.from_env({"GEMINI_API_KEY": "k", **env})


@pytest.fixture
def offline() -> Iterator[str]:
    with start_offline_gemini() as model:
        yield model.url


def last_request(url: str) -> dict:
    return requests.get(f"{url}/_fake/requests", timeout=5).json()["requests"][-1]


def test_the_request_leaves_temperature_at_its_default_thinks_low_and_caps_the_output(offline) -> None:
    s = settings(GEMINI_BASE_URL=offline)
    answer = generate(make_genai_client(s), CONTENTS, settings=s)
    config = last_request(offline)["body"]["generationConfig"]
    assert "temperature" not in config  # Gemini 3: lower temperatures can make the model loop
    assert config["thinkingConfig"] == {"thinking_level": "LOW"}
    assert config["maxOutputTokens"] == 8192
    assert answer.thinking_tokens == THINKING_TOKENS["LOW"]
    assert answer.text.startswith("[offline model]")


def test_the_thinking_level_and_the_output_cap_come_from_the_settings(offline) -> None:
    s = settings(GEMINI_BASE_URL=offline, GEMINI_THINKING_LEVEL="High", GEMINI_MAX_OUTPUT_TOKENS="2000")
    answer = generate(make_genai_client(s), CONTENTS, settings=s)
    config = last_request(offline)["body"]["generationConfig"]
    assert (config["thinkingConfig"], config["maxOutputTokens"]) == ({"thinking_level": "HIGH"}, 2000)
    assert answer.thinking_tokens == THINKING_TOKENS["HIGH"]


def test_thinking_and_cached_tokens_are_read_from_the_usage(offline) -> None:
    s = settings(GEMINI_BASE_URL=offline)
    client = make_genai_client(s)
    first = generate(client, CONTENTS, settings=s)
    second = generate(client, CONTENTS, settings=s)  # same system instruction: served from the cache
    assert (first.cached_tokens, second.cached_tokens) == (0, -(-len(s.system_instruction) // 4))
    assert second.input_tokens >= second.cached_tokens > 0
    assert second.output_tokens > 0 and second.thinking_tokens == THINKING_TOKENS["LOW"]


def test_a_model_that_cannot_be_reached_is_unavailable() -> None:
    s = settings(GEMINI_BASE_URL=f"http://127.0.0.1:{free_port()}", GEMINI_MAX_ATTEMPTS="1")
    with pytest.raises(ModelUnavailable, match="ConnectError"):
        generate(make_genai_client(s), CONTENTS, settings=s)


class Trickle:
    """An HTTP server that answers a byte at a time: no single read ever times out."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
            )
            while not self.stop.wait(0.2):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_the_call_ends_within_its_budget_even_when_every_read_beats_the_timeout() -> None:
    """httpx's timeout applies to each read; the wall clock around the call bounds the whole."""
    server = Trickle()
    try:
        s = settings(GEMINI_BASE_URL=server.url, GEMINI_TIMEOUT_SECONDS="1", GEMINI_MAX_ATTEMPTS="1")
        assert model_call_seconds(s) == 1.0
        started = time.monotonic()
        with pytest.raises(ModelUnavailable, match="within 1 s"):
            generate(make_genai_client(s), CONTENTS, settings=s)
        assert time.monotonic() - started < 2.0
    finally:
        server.close()


# -- Vertex AI: an access token is fetched first, through google-auth -----------------------------


def service_account_credentials(token_uri: str) -> service_account.Credentials:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "demo-vertex",
        "private_key_id": "1",
        "private_key": pem,
        "client_email": "ai-reply@demo-vertex.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    return service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )


def vertex_settings() -> Settings:
    # The model endpoint is a closed local port too: nothing here can reach Google.
    return Settings.from_env(
        {
            "GOOGLE_GENAI_USE_VERTEXAI": "true",
            "GOOGLE_CLOUD_PROJECT": "demo-vertex",
            "GEMINI_BASE_URL": f"http://127.0.0.1:{free_port()}",
            "GEMINI_MAX_ATTEMPTS": "2",
        }
    )


def test_on_vertex_a_token_endpoint_that_cannot_be_reached_makes_the_model_unavailable() -> None:
    s = vertex_settings()
    client = make_genai_client(
        s, credentials=service_account_credentials(f"http://127.0.0.1:{free_port()}/token")
    )
    with pytest.raises(ModelUnavailable, match="credentials could not be fetched") as raised:
        generate(client, CONTENTS, settings=s)
    assert isinstance(raised.value.__cause__, auth_exceptions.TransportError)


class TokenRefused(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.dumps({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_on_vertex_credentials_the_token_endpoint_refuses_are_a_rejection_not_a_retry() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenRefused)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = vertex_settings()
        token_uri = f"http://127.0.0.1:{server.server_address[1]}/token"
        client = make_genai_client(s, credentials=service_account_credentials(token_uri))
        with pytest.raises(ModelRejected, match="refused the function's credentials"):
            generate(client, CONTENTS, settings=s)
    finally:
        server.shutdown()
        server.server_close()


def test_a_metadata_server_that_cannot_be_reached_counts_as_unavailable() -> None:
    """On Cloud Functions the token comes from the metadata server; google-auth's compute_engine
    credentials turn its TransportError into a RefreshError raised from it."""
    try:
        try:
            raise auth_exceptions.TransportError("Failed to retrieve http://metadata.google.internal/...")
        except auth_exceptions.TransportError as caught:
            raise auth_exceptions.RefreshError(caught) from caught
    except auth_exceptions.RefreshError as refresh:
        assert isinstance(model_failure(refresh), ModelUnavailable)
    assert isinstance(model_failure(auth_exceptions.RefreshError("invalid_grant")), ModelRejected)
    assert isinstance(model_failure(requests.ConnectionError("reset by peer")), ModelUnavailable)
    assert model_failure(ValueError("not ours")) is None
