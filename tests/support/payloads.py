"""Recorded webhook bodies: Meta's (`tests/fixtures/whatsapp/`) and WAHA's (`tests/fixtures/waha/`)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp"
# The business number and customer most fixtures are about, and their conversation.
FIXTURE_CONVERSATION = "106540352242922_16505551234"


def load(name: str) -> bytes:
    """A fixture by name; `.json` is assumed when the name has no suffix."""
    path = FIXTURES / name
    return (path if path.suffix else path.with_suffix(".json")).read_bytes()


WAHA_FIXTURES = FIXTURES.parent / "waha"
# WAHA's fixtures are of session `default`, served here as business number `waha-default`.
WAHA_SESSIONS = {"default": "waha-default"}
WAHA_CONVERSATION = "waha-default_15551234567"


def load_waha(name: str) -> bytes:
    """A WAHA webhook body (`tests/fixtures/waha/<name>.json`), as WAHA's engines post it."""
    return (WAHA_FIXTURES / name).with_suffix(".json").read_bytes()
