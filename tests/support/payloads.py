"""Recorded WhatsApp webhook bodies (`tests/fixtures/whatsapp/`), as the bytes Meta sends."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp"
# The business number and customer most fixtures are about, and their conversation.
FIXTURE_CONVERSATION = "106540352242922_16505551234"


def load(name: str) -> bytes:
    """A fixture by name; `.json` is assumed when the name has no suffix."""
    path = FIXTURES / name
    return (path if path.suffix else path.with_suffix(".json")).read_bytes()
