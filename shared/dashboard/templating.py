"""Jinja helpers: times, numbers, icons and cache-busted asset URLs.

Templates autoescape everything; the one helper that returns markup (`icon`) builds it from
names chosen by our code and escapes them anyway. Times are rendered in UTC with a machine
readable `datetime`; the page's script rewrites them in the operator's own time zone.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import flask
from markupsafe import Markup, escape

from shared.dashboard.auth import csrf

SPRITE = "vendor/feather/feather-sprite.svg"


@functools.cache
def _asset_version(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return "0"


def static_url(filename: str) -> str:
    """URL of a static file, versioned by its content so browsers may cache it for long."""
    app = flask.current_app
    version = _asset_version(Path(app.static_folder or "") / filename)
    return flask.url_for("static", filename=filename, v=version)


def icon(name: str, css_class: str = "") -> Markup:
    href = f"{static_url(SPRITE)}#{name}"
    classes = f"feather {css_class}".strip()
    return Markup('<svg class="{}" aria-hidden="true" focusable="false"><use href="{}"></use></svg>').format(
        classes, href
    )


def iso(value: datetime | None) -> str:
    """UTC, always with microseconds: the live script compares these strings to order messages."""
    return value.astimezone(UTC).isoformat(timespec="microseconds") if isinstance(value, datetime) else ""


def utc_time(value: datetime | None) -> str:
    if not isinstance(value, datetime):
        return "—"
    return value.astimezone(UTC).strftime("%d %b %Y %H:%M UTC")


def hhmm(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%H:%M UTC") if isinstance(value, datetime) else "—"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if not isinstance(value, datetime):
        return "—"
    seconds = max(0, int(((now or datetime.now(UTC)) - value).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def duration_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value < 1000 else f"{value / 1000:,.1f} s"


def size(value: int | None) -> str:
    if value is None:
        return ""
    amount = float(value)
    for unit in ("B", "KB", "MB"):
        if amount < 1024 or unit == "MB":
            return f"{amount:,.0f} {unit}" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1024
    return ""


def usd(value: float | None) -> str:
    """A cost: cents to the hundredth below a dollar (messages cost fractions of a cent)."""
    if value is None:
        return "—"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def until(value: datetime | None, now: datetime | None = None) -> str:
    if not isinstance(value, datetime):
        return "—"
    seconds = int((value - (now or datetime.now(UTC))).total_seconds())
    if seconds <= 0:
        return "closed"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def install(app: flask.Flask) -> None:
    app.jinja_env.autoescape = True  # every template, whatever its file name
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(
        iso=iso,
        utc=utc_time,
        hhmm=hhmm,
        ago=ago,
        number=number,
        ms=duration_ms,
        size=size,
        usd=usd,
        until=until,
    )
    app.jinja_env.globals.update(
        static_url=static_url,
        icon=icon,
        csrf_token=lambda: csrf.token_for(flask.request),
        csrf_field=lambda: Markup('<input type="hidden" name="{}" value="{}">').format(
            csrf.FORM_FIELD, escape(csrf.token_for(flask.request))
        ),
    )
