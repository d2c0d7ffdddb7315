"""The control API under ``/_sim/`` (JSON, no auth) and the chat page at ``/``.

Tests and the chat page drive the simulator through these routes: act as a user, look at what the
business sent, queue faults, change settings. Each route is a thin wrapper over one
:class:`WhatsAppSimulator` method, so a test in this process can call the same thing directly.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, jsonify, request, send_from_directory

from local.faults import fault_specs
from local.simulator import wire
from local.simulator.config import DEFAULT_USER_WA_ID
from local.simulator.simulator import WhatsAppSimulator
from local.simulator.state import SimulatorError
from local.simulator.wire import STATUS_STATES, Json

STATIC_DIR = Path(__file__).resolve().parent / "static"  # the chat page and its assets


def _control_body() -> Json:
    body = request.get_json(force=True, silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise SimulatorError("the body must be a JSON object")
    return body


def add_control_routes(app: Flask, sim: WhatsAppSimulator) -> None:
    @app.errorhandler(SimulatorError)
    def bad_control_request(exc: SimulatorError) -> tuple[Response, int]:
        return jsonify({"error": str(exc)}), 400

    @app.get("/")
    def chat_page() -> Response:
        return send_from_directory(STATIC_DIR, "index.html")

    @app.get("/_sim/health")
    def health() -> Response:
        return jsonify({"ok": True})

    @app.post("/_sim/inbound")
    def inbound() -> Response:
        return jsonify(sim.send_inbound(_control_body(), request.host_url))

    @app.route("/_sim/users/<wa_id>", methods=["GET", "POST"])
    def user(wa_id: str) -> Response:
        if request.method == "POST":
            return jsonify(sim.set_user(wa_id, _control_body()))
        return jsonify(sim.user(wa_id))

    @app.post("/_sim/business-app/send")
    def business_app_send() -> Response:
        return jsonify(sim.send_from_business_app(_control_body()))

    @app.post("/_sim/history")
    def history() -> Response:
        return jsonify(sim.replay_history(_control_body()))

    @app.post("/_sim/redeliver")
    def redeliver() -> Response:
        return jsonify(sim.redeliver(str(_control_body().get("wamid", ""))))

    @app.post("/_sim/deliver-raw")
    def deliver_raw() -> Response:
        return jsonify(sim.deliver_raw(_control_body()))

    @app.post("/_sim/verify-webhook")
    def verify_webhook() -> Response:
        return jsonify(sim.verify_webhook(_control_body().get("verify_token")))

    @app.post("/_sim/statuses")
    def push_status() -> Response:
        body = _control_body()
        if body.get("status", "read") not in STATUS_STATES:
            raise SimulatorError(f"status must be one of {sorted(STATUS_STATES)}")
        errors = [wire.webhook_error(int(body["code"]))] if body.get("code") else None
        return jsonify(sim.push_status(str(body.get("wamid", "")), str(body.get("status", "read")), errors))

    @app.post("/_sim/media")
    def store_media() -> Response:
        upload = request.files.get("file")
        if upload is not None:
            data = upload.read()
            mime = request.form.get("mime_type") or upload.mimetype
            filename = request.form.get("filename") or upload.filename
        else:
            data = request.get_data()
            mime = request.args.get("mime_type") or request.mimetype
            filename = request.args.get("filename")
        if not data:
            raise SimulatorError("send a multipart 'file' field or the raw bytes as the body")
        item = sim.store_media(data, mime or "application/octet-stream", filename)
        return jsonify(item.summary())

    @app.get("/_sim/media/<media_id>")
    def media_content(media_id: str) -> Response | tuple[Response, int]:
        item = sim.media(media_id)
        if item is None:
            return jsonify({"error": "no such media"}), 404
        return Response(item.data, content_type=item.mime_type)

    @app.post("/_sim/expire-media-urls")
    def expire_media_urls() -> Response:
        return jsonify({"expired": sim.expire_media_urls()})

    @app.get("/_sim/outbox")
    def outbox() -> Response:
        wa_id = request.args.get("wa_id")
        wait_count = request.args.get("wait_count", type=int)
        if wait_count:
            messages = sim.wait_outbox(wait_count, request.args.get("timeout", 10.0, type=float), wa_id)
        else:
            messages = sim.outbox(wa_id)
        return jsonify({"messages": messages})

    @app.get("/_sim/events")
    def events() -> Response:
        return jsonify({"events": sim.events(request.args.get("kind"))})

    @app.get("/_sim/inbox")
    def inbox() -> Response:
        return jsonify({"messages": sim.inbound()})

    @app.get("/_sim/deliveries")
    def deliveries() -> Response:
        return jsonify({"deliveries": sim.deliveries()})

    @app.route("/_sim/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        if request.method == "DELETE":
            sim.clear_faults()
        elif request.method == "POST":
            try:
                sim.add_faults(fault_specs(request.get_json(force=True, silent=True)))
            except (ValueError, TypeError) as exc:
                raise SimulatorError(str(exc)) from exc
        return jsonify({"faults": sim.faults()})

    @app.route("/_sim/config", methods=["GET", "POST"])
    def config() -> Response:
        if request.method == "POST":
            try:
                sim.configure(_control_body())
            except (ValueError, TypeError) as exc:
                raise SimulatorError(str(exc)) from exc
        return jsonify(sim.config.public())

    @app.post("/_sim/clock")
    def clock() -> Response:
        """``{"advance_seconds": 90000}`` moves Meta's clock forward; the answer is the new time."""
        body = _control_body()
        try:
            seconds = float(body.get("advance_seconds", 0))
        except (TypeError, ValueError) as exc:
            raise SimulatorError("advance_seconds must be a number") from exc
        return jsonify({"now": sim.advance_clock(seconds)})

    @app.route("/_sim/templates", methods=["GET", "POST"])
    def templates() -> Response:
        if request.method == "POST":
            return jsonify(sim.add_template(_control_body()))
        return jsonify({"templates": sim.templates()})

    @app.post("/_sim/templates/<template_id>/review")
    def review_template(template_id: str) -> Response:
        body = _control_body()
        return jsonify(sim.review_template(template_id, str(body.get("status", "")), body.get("reason")))

    @app.post("/_sim/templates/<template_id>/quality")
    def rate_template(template_id: str) -> Response:
        return jsonify(sim.rate_template(template_id, str(_control_body().get("score", ""))))

    @app.post("/_sim/reset")
    def reset() -> Response:
        sim.reset()
        return jsonify({"ok": True})

    @app.get("/_sim/conversation")
    def conversation() -> Response:
        provider = request.args.get("provider", "cloud")
        return jsonify(sim.conversation(request.args.get("wa_id", DEFAULT_USER_WA_ID), provider))

    @app.post("/_sim/waha/business-echo")
    def business_echo() -> Response:
        return jsonify(sim.business_echo(_control_body()))

    @app.get("/_sim/waha/deliveries")
    def waha_deliveries() -> Response:
        return jsonify({"deliveries": sim.waha_deliveries()})
