"""Answers and body reads that leave a refused request's body unread past the limit."""

from __future__ import annotations

import flask


def text(body: str, status: int) -> flask.Response:
    """A plain-text answer that leaves the rest of the request unread.

    functions-framework reads the whole request body after every response that is not a
    stream (its ``after_request`` hook calls ``request.get_data()``), which would undo the body
    limit for every refused request. A one-piece stream with its length set is answered the
    same way and skips that hook; gunicorn then drains at most 64 KB before closing.
    """
    data = body.encode()
    response = flask.Response(iter([data]), status=status, mimetype="text/plain")
    response.headers["Content-Length"] = str(len(data))
    return response


def read_body(request: flask.Request, limit: int) -> bytes | None:
    """The raw body, or None when it is over `limit` (read no further than limit + 1 bytes)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body
