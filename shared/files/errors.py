"""The one exception that means "this file will never work": everything else is worth a retry.

The media function stops retrying on ``MediaRejected``, marks the message failed with ``reason``
(which an operator, and the customer through the assistant, can read) and ``code`` (which
dashboards and metrics group by). Any other exception (storage outage, missing ffmpeg, a
timeout on a busy instance) propagates so that Pub/Sub redelivers the job.
"""

from __future__ import annotations

from enum import StrEnum


class RejectCode(StrEnum):
    """Stable machine-readable codes; the wording of ``reason`` may change, these may not."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    TYPE_MISMATCH = "type_mismatch"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_LONG = "too_long"
    NO_SOUND = "no_sound"
    NO_PICTURE = "no_picture"
    DAMAGED = "damaged"
    SHA256_MISMATCH = "sha256_mismatch"  # every download differed from WhatsApp's checksum
    # It would cost more CPU or memory to open than any honest file of its kind needs.
    TOO_COMPLEX = "too_complex"
    # The download address is not one of Meta's media hosts.
    UNTRUSTED_URL = "untrusted_url"


class MediaRejected(Exception):
    """A permanent failure: retrying the same bytes gives the same answer."""

    def __init__(self, reason: str, code: str) -> None:
        # Both arguments go to Exception so the error pickles and prints with its reason.
        super().__init__(reason, code)
        self.reason = reason
        self.code = str(code)

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"MediaRejected({self.reason!r}, code={self.code!r})"


class MediaTimeout(TimeoutError):
    """A decoder did not finish in time: treated as transient, a quieter instance may manage.

    CPU limits, not wall time, are what refuse a file that is expensive to open: wall time
    also counts the time other jobs on the instance took from it.
    """
