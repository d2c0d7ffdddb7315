"""The access token goes only where Meta serves media, and so does our function.

A "trap" server stands for any host an attacker would like us to fetch (an internal address, a
host of theirs): it records every request, and it must never see one. The media addresses that
lead to it arrive the ways the real ones do: in a webhook's media ``url``, in the Graph API's
answer for a media id, and in a redirect from a trusted host. The Graph API side is either the
WhatsApp simulator or a small scripted server on the configured Graph origin.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from local.simulator import DEFAULT_ACCESS_TOKEN, graph_api_url, start_simulator
from shared.bucket import whatsapp_sha256_to_hex
from shared.files.errors import MediaRejected, RejectCode
from shared.media.download import download_media
from shared.whatsapp.client import MAX_ERROR_BYTES, RetryPolicy, WhatsAppClient
from shared.whatsapp.errors import ServiceUnavailable, UntrustedAddress
from shared.whatsapp.hosts import TrustedHosts

TOKEN = "system-user-token"
PHOTO = b"\xff\xd8\xff\xe0" + b"photo bytes" * 100


class Recorder:
    """A local HTTP server that answers with ``route(handler)`` and remembers every request."""

    def __init__(self, route: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.bytes_written = 0
        self.route = route
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.requests.append((self.path, dict(self.headers)))
                recorder.route(self)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    handler.send_response(status)
    for name, value in {"Content-Length": str(len(body)), **headers}.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def trap() -> Iterator[Recorder]:
    server = Recorder(lambda h: answer(h, 200, b"internal data the model would quote back"))
    yield server
    server.stop()


class ScriptedGraph:
    """The configured Graph origin: media metadata, media bytes and redirects, as the test scripts them."""

    def __init__(self) -> None:
        self.metadata_url = ""
        self.redirect_to = ""
        self.server = Recorder(self._route)

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/v25.0/media-1":
            meta = {
                "url": self.metadata_url,
                "mime_type": "image/jpeg",
                "id": "media-1",
                "file_size": len(PHOTO),
            }
            answer(handler, 200, json.dumps(meta).encode(), Content_Type="application/json")
        elif handler.path == "/media/photo":
            answer(handler, 200, PHOTO, Content_Type="image/jpeg")
        elif handler.path == "/media/moved":
            answer(handler, 302, Location=self.redirect_to)
        else:
            answer(handler, 404)

    @property
    def base_url(self) -> str:
        return f"{self.server.origin}/v25.0"

    def client(self) -> WhatsAppClient:
        return WhatsAppClient(self.base_url, TOKEN, retry=RetryPolicy(attempts=2), sleep=lambda _s: None)

    def tokens_seen(self) -> list[str | None]:
        return [headers.get("Authorization") for _path, headers in self.server.requests]


@pytest.fixture
def graph() -> Iterator[ScriptedGraph]:
    scripted = ScriptedGraph()
    yield scripted
    scripted.server.stop()


def media(url: str | None = None) -> dict:
    found = {"id": "media-1", "mime_type": "image/jpeg"}
    return {**found, "url": url} if url else found


# --- the three ways an address arrives ----------------------------------------------------------


def test_a_webhook_media_url_off_metas_hosts_is_never_requested_and_the_media_id_is_used(
    tmp_path: Path, trap: Recorder
) -> None:
    with start_simulator(status_delay_seconds=0, webhook_url="http://127.0.0.1:9/unused") as simulator:
        item = simulator.state.store_media(PHOTO, "image/jpeg")
        client = WhatsAppClient(graph_api_url(simulator), DEFAULT_ACCESS_TOKEN)
        forged = {
            "id": item.id,
            "mime_type": "image/jpeg",
            "sha256": item.sha256,
            "url": f"{trap.origin}/steal",
        }
        downloaded = download_media(client, forged, tmp_path / "photo", cap=5 * 1024 * 1024)
    assert downloaded.path.read_bytes() == PHOTO
    assert downloaded.sha256_hex == whatsapp_sha256_to_hex(item.sha256)
    assert trap.requests == []


def test_a_graph_api_answer_pointing_off_metas_hosts_is_refused_and_never_requested(
    tmp_path: Path, graph: ScriptedGraph, trap: Recorder
) -> None:
    graph.metadata_url = f"{trap.origin}/latest/meta-data/iam/security-credentials/"
    with pytest.raises(MediaRejected) as caught:
        download_media(graph.client(), media(), tmp_path / "photo", cap=5 * 1024 * 1024, noun="photo")
    assert caught.value.code == RejectCode.UNTRUSTED_URL
    assert caught.value.reason == "The download address WhatsApp gave for this photo is not one of Meta's"
    assert trap.requests == []


def test_a_redirect_off_metas_hosts_is_refused_and_never_followed(
    tmp_path: Path, graph: ScriptedGraph, trap: Recorder
) -> None:
    graph.metadata_url = f"{graph.server.origin}/media/moved"
    graph.redirect_to = f"{trap.origin}/steal"
    with pytest.raises(MediaRejected) as caught:
        download_media(graph.client(), media(), tmp_path / "photo", cap=5 * 1024 * 1024)
    assert caught.value.code == RejectCode.UNTRUSTED_URL
    assert trap.requests == []
    assert [path for path, _ in graph.server.requests] == ["/v25.0/media-1", "/media/moved"]


def test_a_redirect_within_the_trusted_hosts_is_followed_with_the_token_on_every_hop(
    tmp_path: Path, graph: ScriptedGraph
) -> None:
    graph.metadata_url = f"{graph.server.origin}/media/moved"
    graph.redirect_to = "/media/photo"  # relative, as a CDN may answer
    downloaded = download_media(graph.client(), media(), tmp_path / "photo", cap=5 * 1024 * 1024)
    assert downloaded.path.read_bytes() == PHOTO
    assert [path for path, _ in graph.server.requests] == ["/v25.0/media-1", "/media/moved", "/media/photo"]
    assert graph.tokens_seen() == [f"Bearer {TOKEN}"] * 3


def test_an_untrusted_address_is_refused_by_the_client_before_any_connection(
    trap: Recorder, graph: ScriptedGraph
) -> None:
    client = graph.client()
    with pytest.raises(UntrustedAddress):
        client.open_download(f"{trap.origin}/steal")
    assert trap.requests == []


def test_the_token_is_attached_per_request_never_as_a_session_default(graph: ScriptedGraph) -> None:
    client = graph.client()
    assert "Authorization" not in client.session.headers
    graph.metadata_url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
    assert client.media_metadata("media-1")["id"] == "media-1"
    assert graph.tokens_seen() == [f"Bearer {TOKEN}"]


def test_an_error_body_is_read_only_up_to_a_cap() -> None:
    huge = 64 * 1024 * 1024
    written: list[int] = []

    def flood(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(500)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(huge))
        handler.end_headers()
        sent, piece = 0, b"x" * 65536
        try:
            while sent < huge:
                handler.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass  # the client hung up, as it should
        written.append(sent)

    server = Recorder(flood)
    try:
        client = WhatsAppClient(
            f"{server.origin}/v25.0", TOKEN, retry=RetryPolicy(attempts=1), sleep=lambda _s: None
        )
        with pytest.raises(ServiceUnavailable):
            client.media_metadata("media-1")
        deadline = threading.Event()
        for _ in range(100):
            if written:
                break
            deadline.wait(0.05)
    finally:
        server.stop()
    # What left the server before the client closed: the cap plus what the sockets buffer.
    assert written and written[0] < MAX_ERROR_BYTES + 16 * 1024 * 1024 < huge


# --- the list itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=3", True),
        ("https://scontent.xx.fbcdn.net/v/t61/photo.jpg?oh=1", True),
        ("https://mmg.whatsapp.net/d/f/abc.enc", True),
        ("https://LOOKASIDE.FBSBX.COM./whatsapp_business/attachments/", True),
        ("http://lookaside.fbsbx.com/whatsapp_business/attachments/", False),  # https only
        ("https://lookaside.fbsbx.com:8443/x", False),
        ("https://fbcdn.net.attacker.example/x", False),
        ("https://attacker.example/?next=lookaside.fbsbx.com", False),
        ("https://user:pass@lookaside.fbsbx.com/x", False),
        ("https://attacker.example\\@lookaside.fbsbx.com/x", False),
        ("https://169.254.169.254/computeMetadata/v1/", False),
        ("file:///etc/passwd", False),
        ("gopher://lookaside.fbsbx.com/x", False),
        ("/whatsapp_business/attachments/", False),
        ("http://127.0.0.1:8090/whatsapp_business/attachments/?mid=1", True),  # the configured origin
        ("http://127.0.0.1:8091/whatsapp_business/attachments/?mid=1", False),  # another port
        ("http://localhost:8090/whatsapp_business/attachments/?mid=1", False),
        ("https://127.0.0.1:8090/x", False),
    ],
)
def test_only_metas_media_hosts_over_https_and_the_configured_graph_origin_are_trusted(url, trusted) -> None:
    assert TrustedHosts("http://127.0.0.1:8090/v25.0").trusts(url) is trusted


def test_in_production_the_graph_api_itself_is_the_only_other_trusted_origin() -> None:
    hosts = TrustedHosts("https://graph.facebook.com/v25.0")
    assert hosts.trusts("https://graph.facebook.com/v25.0/12345")
    assert not hosts.trusts("http://graph.facebook.com/v25.0/12345")
    assert not hosts.trusts("http://127.0.0.1:8090/whatsapp_business/attachments/")
