"""Log lines as Cloud Logging reads them: one JSON object per line, with severity and trace."""

from __future__ import annotations

import json
import logging

import pytest

from shared.log import JsonFormatter, trace_context, trace_from_header


def formatted(record: logging.LogRecord) -> dict:
    return json.loads(JsonFormatter().format(record))


def record(message: str, level: int = logging.INFO, **extra) -> logging.LogRecord:
    entry = logging.LogRecord("shared.test", level, __file__, 1, message, None, None)
    entry.__dict__.update(extra)
    return entry


def test_a_line_carries_severity_message_logger_and_the_extra_fields() -> None:
    line = formatted(record("reply sent", logging.WARNING, conversation_id="c1", parts=2))
    assert line["severity"] == "WARNING" and line["message"] == "reply sent"
    assert line["logger"] == "shared.test"
    assert (line["conversation_id"], line["parts"]) == ("c1", 2)
    assert "time" in line


def test_non_ascii_text_stays_readable_and_odd_values_become_strings() -> None:
    line = formatted(record("مرحبا 👋", when=object()))
    assert line["message"] == "مرحبا 👋"
    assert isinstance(line["when"], str)


def test_the_trace_of_the_request_ties_every_line_to_it() -> None:
    trace = trace_from_header("0af7651916cd43dd8448eb211c80319c/123;o=1", "demo")
    assert trace == "projects/demo/traces/0af7651916cd43dd8448eb211c80319c"
    with trace_context(trace):
        assert formatted(record("inside"))["logging.googleapis.com/trace"] == trace
    assert "logging.googleapis.com/trace" not in formatted(record("outside"))


@pytest.mark.parametrize("header", [None, "", "/span-only"])
def test_a_missing_or_empty_trace_header_gives_no_trace(header) -> None:
    assert trace_from_header(header, "demo") is None


def test_an_exception_is_logged_with_its_stack() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        entry = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert "ValueError: boom" in formatted(entry)["stack_trace"]
