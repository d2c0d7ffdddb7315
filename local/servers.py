"""A tiny threaded HTTP server helper shared by the local stand-ins (WhatsApp simulator, offline Gemini).

Tests and the developer stack start these services inside their own process; a werkzeug server in a
daemon thread is enough, starts in milliseconds and picks a free port when asked for port 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Generic, TypeVar
from wsgiref.types import WSGIApplication

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

T = TypeVar("T")

log = logging.getLogger(__name__)


class RunningServer(Generic[T]):
    """A server running in a daemon thread; ``state`` is the service object behind the app."""

    def __init__(
        self,
        server: BaseWSGIServer,
        thread: threading.Thread,
        state: T,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._server = server
        self._thread = thread
        self._on_stop = on_stop
        self._stopped = False
        self.state = state
        self.port: int = server.server_port
        host = server.server_address[0]
        # A wildcard bind is reachable on loopback; a URL with 0.0.0.0 in it is not portable.
        self.host: str = "127.0.0.1" if host in {"0.0.0.0", "", "::"} else str(host)

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:8090``."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and end the service's background work; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._on_stop is not None:
            self._on_stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)

    def __enter__(self) -> RunningServer[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _handler_class(log_requests: bool, quiet_paths: Iterable[str]) -> type[WSGIRequestHandler]:
    muted = tuple(quiet_paths)

    class Handler(WSGIRequestHandler):
        # Polling pages would flood the developer's terminal; tests want no request log at all.
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            path = getattr(self, "path", "")
            if log_requests and not path.startswith(muted):
                super().log_request(code, size)

    return Handler


def start_server(
    app: WSGIApplication,
    state: T,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    name: str = "local-server",
    on_stop: Callable[[], None] | None = None,
    log_requests: bool = False,
    quiet_paths: Iterable[str] = (),
) -> RunningServer[T]:
    """Serve ``app`` on ``host:port`` (0 = any free port) in a daemon thread and return at once."""
    server = make_server(
        host,
        port,
        app,
        threaded=True,
        request_handler=_handler_class(log_requests, quiet_paths),
    )
    # A short poll interval makes stop() take milliseconds instead of half a second (tests stop many servers).
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True)
    thread.start()
    return RunningServer(server, thread, state, on_stop)


def run_until_signalled(running: RunningServer[T], banner: str) -> None:
    """Block the main thread until SIGINT/SIGTERM, then stop the server (for ``python -m`` entry points)."""
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(banner, flush=True)
    # wait() with a timeout keeps the main thread responsive to signals on every platform.
    while not done.wait(0.5):
        pass
    running.stop()
