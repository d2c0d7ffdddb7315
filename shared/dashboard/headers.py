"""Security headers on every response the dashboard sends.

The Content-Security-Policy is the safety net under Jinja's escaping: even if a customer's text
ever reached the page unescaped, no inline script, inline handler or foreign resource would run.
Pages and JSON are about customers, so no cache may keep them.
"""

from __future__ import annotations

import flask

PAGE_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Bootstrap's CSS draws a few icons (select arrows, toggler) as data: SVG images.
        "img-src 'self' data:",
        "media-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Media bytes came from WhatsApp users: opened on their own, they may not run or load anything.
MEDIA_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=63072000; includeSubDomains"


def add_security_headers(request: flask.Request, response: flask.Response) -> flask.Response:
    for name, value in COMMON.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
