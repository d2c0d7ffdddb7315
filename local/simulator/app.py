"""The HTTP surface: the Graph API subset and media download host, plus (from ``control``) the
``/_sim/`` control API and the chat page; and starting it all in a thread."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.routing import BaseConverter

from local.servers import RunningServer, start_server
from local.simulator import wire
from local.simulator.config import DEFAULT_API_VERSION, SimulatorConfig
from local.simulator.control import STATIC_DIR, add_control_routes
from local.simulator.media import MediaItem
from local.simulator.simulator import WhatsAppSimulator


class GraphVersionConverter(BaseConverter):
    """Matches Graph API version path segments such as ``v27.0``."""

    regex = r"v\d+\.\d+"


def create_app(sim: WhatsAppSimulator) -> Flask:
    """The Flask app: Graph API subset, media download host, control API and chat page."""
    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/_sim/static")
    app.url_map.converters["graph_version"] = GraphVersionConverter
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    _add_graph_routes(app, sim)
    _add_waha_routes(app, sim)
    add_control_routes(app, sim)
    return app


def _json(status: int, body: Any) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _auth_failure(sim: WhatsAppSimulator, kind: str) -> Response | None:
    if sim.token_ok(request.headers.get("Authorization")):
        return None
    sim.record_event("auth_failed", 401, None, path=request.path, call=kind)
    return _json(401, wire.graph_error_body(190))


def _add_graph_routes(app: Flask, sim: WhatsAppSimulator) -> None:
    @app.post("/<graph_version:version>/<phone_number_id>/messages")
    def post_messages(version: str, phone_number_id: str) -> Response:
        denied = _auth_failure(sim, "messages")
        if denied:
            return denied
        status, body = sim.post_messages(phone_number_id, request.get_json(force=True, silent=True))
        return _json(status, body)

    @app.post("/<graph_version:version>/<waba_id>/message_templates")
    def create_template(version: str, waba_id: str) -> Response:
        denied = _auth_failure(sim, "templates")
        if denied:
            return denied
        status, body = sim.create_template(waba_id, request.get_json(force=True, silent=True))
        return _json(status, body)

    @app.get("/<graph_version:version>/<waba_id>/message_templates")
    def list_templates(version: str, waba_id: str) -> Response:
        denied = _auth_failure(sim, "templates")
        if denied:
            return denied
        status, body = sim.list_templates(waba_id, request.args)
        sim.record_event("list_templates", status, dict(request.args))
        return _json(status, body)

    @app.post("/<graph_version:version>/<phone_number_id>/media")
    def upload_media(version: str, phone_number_id: str) -> Response:
        denied = _auth_failure(sim, "media_upload")
        if denied:
            return denied
        upload = request.files.get("file")
        data = upload.read() if upload else b""
        mime = request.form.get("type") or (upload.mimetype if upload else "") or "application/octet-stream"
        status, body = sim.upload_from_business(
            phone_number_id, request.form, data, mime, upload.filename if upload else None
        )
        return _json(status, body)

    @app.get("/<graph_version:version>/<media_id>")
    def media_metadata(version: str, media_id: str) -> Response:
        denied = _auth_failure(sim, "media_metadata")
        if denied:
            return denied
        status, body = sim.media_metadata(media_id, request.host_url)
        return _json(status, body)

    @app.delete("/<graph_version:version>/<media_id>")
    def delete_media(version: str, media_id: str) -> Response:
        denied = _auth_failure(sim, "media_delete")
        if denied:
            return denied
        if not sim.delete_media(media_id):
            return _json(400, wire.unknown_object_body(media_id, "delete"))
        return _json(200, {"success": True})

    @app.get("/whatsapp_business/attachments/")
    def download_media() -> Response:
        denied = _auth_failure(sim, "media_download")
        if denied:
            return denied
        status, result = sim.download(request.args.get("mid", ""), request.args.get("hash", ""))
        if not isinstance(result, MediaItem):
            return _json(status, result)
        return Response(result.data, status=200, content_type=result.mime_type)


def _add_waha_routes(app: Flask, sim: WhatsAppSimulator) -> None:
    """WAHA's API for the WAHA-mode session (local/simulator/waha.py); `X-Api-Key` on every call."""

    def refused() -> Response | None:
        if sim.waha.key_ok(request.headers.get("X-Api-Key")):
            return None
        sim.record_event("waha_auth_failed", 401, None, path=request.path)
        return _json(401, {"statusCode": 401, "message": "Unauthorized"})

    def answer(call: Any) -> Response:
        denied = refused()
        if denied:
            return denied
        status, body = call(request.get_json(force=True, silent=True))
        return _json(status, body)

    @app.post("/api/sendText")
    def waha_send_text() -> Response:
        return answer(sim.waha.send_text)

    @app.post("/api/sendSeen")
    def waha_send_seen() -> Response:
        return answer(sim.waha.send_seen)

    @app.post("/api/startTyping")
    def waha_start_typing() -> Response:
        return answer(lambda body: sim.waha.typing(body, on=True))

    @app.post("/api/stopTyping")
    def waha_stop_typing() -> Response:
        return answer(lambda body: sim.waha.typing(body, on=False))

    @app.get("/api/files/<session>/<path:name>")
    def waha_file(session: str, name: str) -> Response:
        denied = refused()
        if denied:
            return denied
        item = sim.waha.file(session, name)
        if item is None:
            return _json(404, {"statusCode": 404, "message": "File not found"})
        sim.record_event("waha_file", 200, None, path=request.path)
        return Response(item.data, status=200, content_type=item.mime_type)


def waha_api_url(server: RunningServer[Any]) -> str:
    """The value for ``WAHA_URL`` that points our code at a running simulator's WAHA mode."""
    return server.url


def start_simulator(
    port: int = 0,
    host: str = "127.0.0.1",
    config: SimulatorConfig | None = None,
    log_requests: bool = False,
    **overrides: Any,
) -> RunningServer[WhatsAppSimulator]:
    """Start the simulator in a daemon thread; ``.state`` is the :class:`WhatsAppSimulator`.

    ``overrides`` are :class:`SimulatorConfig` fields, e.g. ``webhook_url=..., app_secret=...``.
    """
    base = config or SimulatorConfig()
    sim = WhatsAppSimulator(base.updated(overrides) if overrides else base)
    return start_server(
        create_app(sim),
        sim,
        host=host,
        port=port,
        name="whatsapp-simulator",
        on_stop=sim.close,
        log_requests=log_requests,
        quiet_paths=("/_sim/conversation", "/_sim/static", "/_sim/media/"),
    )


def graph_api_url(server: RunningServer[Any], version: str = DEFAULT_API_VERSION) -> str:
    """The value for ``WHATSAPP_API_URL`` that points our code at a running simulator."""
    return f"{server.url}/{version}"
