"""The media proxy route: a message's image, voice note, video, poster frame or document."""

from __future__ import annotations

import flask

from shared.dashboard import state
from shared.dashboard.media import MediaNotFound, media_response, media_uri

media = flask.Blueprint("media", __name__)


@media.get("/conversations/<conversation_id>/messages/<message_id>/media/<variant>")
def media_file(conversation_id: str, message_id: str, variant: str) -> flask.Response:
    dashboard = state.current()
    if not dashboard.config.media_bucket:
        flask.abort(404)
    try:
        uri, filename = media_uri(
            dashboard.db, conversation_id, message_id, variant, dashboard.config.media_bucket
        )
        return media_response(dashboard.clients.bucket, uri, filename, flask.request.headers.get("Range"))
    except MediaNotFound:
        flask.abort(404)
