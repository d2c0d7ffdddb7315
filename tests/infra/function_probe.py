"""Start one packaged function the way Cloud Functions does, inside that function's own venv.

Run as ``<venv>/bin/python -I function_probe.py <package dir> <entry point>``; prints one JSON line.
Standard library only (the venv has just the function's requirements). The network is limited to
loopback, so a client that would reach Google at import time is reported instead of connecting.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
import traceback

BLOCKED: list[str] = []


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guard(original):
    """Wrap a socket method so it refuses (and records) any peer that is not loopback."""

    def guarded(self, address, *args, **kwargs):
        if not _is_loopback(address):
            BLOCKED.append(repr(address))
            raise OSError(f"function probe: network access to {address!r} is blocked")
        return original(self, address, *args, **kwargs)

    return guarded


def _block_network() -> None:
    socket.socket.connect = _guard(socket.socket.connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guard(socket.socket.connect_ex)  # type: ignore[method-assign]


def probe(package_dir: str, target: str) -> dict[str, object]:
    # Cloud Functions runs with the source folder as working directory and import root.
    os.chdir(package_dir)
    sys.path.insert(0, package_dir)
    import functions_framework

    # "http": a function without an Eventarc trigger is deployed as an HTTP function; only its
    # own decorator (@functions_framework.cloud_event) makes it a CloudEvent function.
    app = functions_framework.create_app(target, os.path.join(package_dir, "main.py"), "http")
    response = app.test_client().get("/")
    shared = sys.modules.get("shared")
    return {
        "get_status": response.status_code,
        "shared_from": os.path.dirname(getattr(shared, "__file__", "") or "") if shared else None,
        "python": "{}.{}".format(*sys.version_info[:2]),
    }


def main() -> int:
    package_dir, target = sys.argv[1], sys.argv[2]
    _block_network()
    try:
        result: dict[str, object] = {"ok": True, **probe(package_dir, target)}
    except BaseException as exc:
        result = {"ok": False, "error": "".join(traceback.format_exception(exc))[-6000:]}
    result["blocked"] = BLOCKED
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
