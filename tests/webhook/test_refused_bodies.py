"""A refused request costs the webhook no more than its body limit, however much the client sends.

A raw socket client plays the attacker: it declares (or streams, chunked) 40 MiB, sends it in
small slices with short pauses, and stops the moment an answer arrives. What it managed to send
by then is what the server took from it, up to the little that the kernel's buffers hold. A server
that reads the whole body before answering (functions-framework's after_request hook calls
``request.get_data()`` on every response that is not streamed) takes all 40 MiB.
"""

from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

import pytest

from shared.config import Settings
from shared.whatsapp.signature import sign
from tests.support.cloud import APP_SECRET

MiB = 1024 * 1024
ATTACK_BYTES = 40 * MiB
SLICE = 64 * 1024
LIMIT = Settings().webhook_max_body_bytes
# The client's send buffer, the server's receive buffer and what is in flight while the
# server's answer travels back: well under a megabyte at this pace.
SLACK = 1 * MiB
WRONG_SIGNATURE = "sha256=" + "0" * 64


class Exchange:
    def __init__(self, sent: int, status: int | None, seconds: float) -> None:
        self.sent, self.status, self.seconds = sent, status, seconds


def attack(
    url: str,
    *,
    chunked: bool,
    signature: str | None,
    path: str = "/webhook/whatsapp",
    size: int = ATTACK_BYTES,
) -> Exchange:
    """Send up to `size` bytes slowly; stop at the first byte of an answer or when the server stops reading."""
    target = urlsplit(url)
    sock = socket.create_connection((target.hostname, target.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SLICE)  # the kernel hides little of the count
    head = [f"POST {path} HTTP/1.1", f"Host: {target.netloc}", "Content-Type: application/json"]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    if signature is not None:
        head.append(f"X-Hub-Signature-256: {signature}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    payload = b"x" * SLICE
    frame = (b"%x\r\n" % SLICE + payload + b"\r\n") if chunked else payload
    started = time.monotonic()
    sent = 0
    try:
        while sent < size:
            if select.select([sock], [], [], 0)[0]:
                break  # an answer (or a close) arrived
            if not select.select([], [sock], [], 2.0)[1]:
                break  # the server stopped reading without answering
            try:
                sock.sendall(frame)
            except OSError:
                break  # the server closed the connection
            sent += SLICE
            time.sleep(0.001)
        if chunked and sent >= size:
            sock.sendall(b"0\r\n\r\n")
        status = _status(sock)
    finally:
        sock.close()
    return Exchange(sent, status, time.monotonic() - started)


def _status(sock: socket.socket) -> int | None:
    sock.settimeout(30)
    try:
        line = sock.recv(64).split(b"\r\n", 1)[0]
    except OSError:
        return None
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


@pytest.mark.parametrize(
    ("case", "chunked", "signature", "path", "size", "status"),
    [
        ("declared too large", False, sign(APP_SECRET, b"{}"), "/webhook/whatsapp", ATTACK_BYTES, 413),
        (
            "streamed too large, chunked",
            True,
            sign(APP_SECRET, b"{}"),
            "/webhook/whatsapp",
            ATTACK_BYTES,
            413,
        ),
        ("unsigned", True, None, "/webhook/whatsapp", ATTACK_BYTES, 401),
        ("wrongly signed and too large", False, WRONG_SIGNATURE, "/webhook/whatsapp", ATTACK_BYTES, 413),
        # Under the limit the body must be read to check its signature: the limit is the cost, not 40 MiB.
        (
            "wrongly signed, chunked, within the limit",
            True,
            WRONG_SIGNATURE,
            "/webhook/whatsapp",
            LIMIT - SLICE,
            403,
        ),
        ("sent to a path that does not exist", False, None, "/admin", ATTACK_BYTES, 404),
    ],
)
def test_a_refused_request_takes_no_more_than_the_limit_from_the_client(
    webhook_process, case, chunked, signature, path, size, status
) -> None:
    exchange = attack(webhook_process.url, chunked=chunked, signature=signature, path=path, size=size)
    assert exchange.status == status, case
    assert exchange.sent <= LIMIT + SLACK, f"{case}: the server took {exchange.sent / MiB:.1f} MiB"


def test_an_unsigned_request_is_refused_before_its_body_is_read(webhook_process) -> None:
    exchange = attack(webhook_process.url, chunked=False, signature=None)
    assert exchange.status == 401
    assert exchange.sent <= SLACK
