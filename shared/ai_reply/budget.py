"""How long one reply job may take at worst, so it always ends inside the function's timeout.

Cloud Run stops an invocation at the function's timeout; a reply job cut off there may have
sent a part without recording it, which the next delivery can only report as "may not have
been delivered". So each job has one `Deadline` (shared/deadline.py): `REPLY_JOB_TIMEOUT_SECONDS`
(Terraform sets it from the function's timeout) less the margin every job keeps for recording
its outcome. Its slow steps draw from it, and their worst cases add up to less than it:

- the model call: `GEMINI_MAX_ATTEMPTS` attempts of at most `GEMINI_TIMEOUT_SECONDS` each, with
  the SDK's backoff between them; a wall clock around the call holds it to that sum (and to what
  is left of the job) even where the HTTP client's timeout applies per phase (connect, write,
  read) rather than in total;
- the Files API (media too large to go inline): `GEMINI_FILES_TIMEOUT_SECONDS` for every upload
  of a reply to be made and become usable;
- the knowledge search (shared/ai_reply/grounding.py): at most `KNOWLEDGE_SECONDS` (10), run
  while the conversation is read, inside the allowance below;
- everything else (reading the conversation and the media, the typing indicator, storing the
  answer, sending its parts): `REST_OF_REPLY_SECONDS`, an allowance rather than a bound; each
  send's timeout is what is left of the deadline, and a part is not started without
  `SEND_SECONDS` of it.

A job that would start another round (a message arrived while it replied) without the time for
a whole one hands the conversation to a new job instead (`job.handle_reply_job`).
"""

from __future__ import annotations

from shared.clients import (
    BACKOFF_EXP_BASE,
    BACKOFF_INITIAL_SECONDS,
    BACKOFF_JITTER_SECONDS,
    BACKOFF_MAX_SECONDS,
)
from shared.config import ConfigError, Settings
from shared.deadline import MARGIN_SECONDS, Deadline

REST_OF_REPLY_SECONDS = 60.0
# Time a part of the reply must have left to be sent at all: WhatsApp's read timeout. A send cut
# short by the deadline could not be told apart from one WhatsApp never answered.
SEND_SECONDS = 20.0


def backoff_worst_seconds(attempts: int) -> float:
    """The longest the SDK can sleep between `attempts` attempts in all."""
    return sum(
        min(BACKOFF_MAX_SECONDS, BACKOFF_INITIAL_SECONDS * BACKOFF_EXP_BASE**n + BACKOFF_JITTER_SECONDS)
        for n in range(max(attempts - 1, 0))
    )


def model_call_seconds(settings: Settings) -> float:
    """The wall-clock limit of one model call: every attempt timing out, and the backoff between."""
    attempts = settings.gemini_max_attempts
    return attempts * settings.gemini_timeout_seconds + backoff_worst_seconds(attempts)


def round_seconds(settings: Settings) -> float:
    """One burst answered at worst: Files API uploads, the model call, and the rest."""
    return settings.gemini_files_timeout_seconds + model_call_seconds(settings) + REST_OF_REPLY_SECONDS


def job_seconds(settings: Settings) -> float:
    """A job that answers one burst at worst, after its debounce."""
    return settings.reply_debounce_ms / 1000 + round_seconds(settings)


def job_deadline(settings: Settings) -> Deadline:
    """The deadline of a reply job starting now."""
    return Deadline.for_job(settings.reply_job_timeout_seconds)


def check_reply_budget(settings: Settings) -> Settings:
    """ConfigError, at start, when the settings let one reply job outlive the function's timeout."""
    worst = job_seconds(settings)
    if worst > settings.reply_job_timeout_seconds - MARGIN_SECONDS:
        raise ConfigError(
            f"a reply job could take {worst:.0f} s, over REPLY_JOB_TIMEOUT_SECONDS="
            f"{settings.reply_job_timeout_seconds} less the {MARGIN_SECONDS:g} s every job keeps "
            f"for recording its outcome: GEMINI_MAX_ATTEMPTS={settings.gemini_max_attempts} x "
            f"GEMINI_TIMEOUT_SECONDS={settings.gemini_timeout_seconds:g} + "
            f"{backoff_worst_seconds(settings.gemini_max_attempts):g} s backoff + "
            f"GEMINI_FILES_TIMEOUT_SECONDS={settings.gemini_files_timeout_seconds:g} + "
            f"REPLY_DEBOUNCE_MS={settings.reply_debounce_ms} + {REST_OF_REPLY_SECONDS:g} s for the rest; "
            "lower those or raise the function's timeout"
        )
    if settings.reply_lease_seconds < settings.reply_job_timeout_seconds:
        raise ConfigError(
            f"REPLY_LEASE_SECONDS={settings.reply_lease_seconds} is shorter than REPLY_JOB_TIMEOUT_SECONDS="
            f"{settings.reply_job_timeout_seconds}: a slow job's lease could pass to another instance"
        )
    return settings
