"""The sweep that ends pauses by human reply: every conversation whose pause ran out gets a reply
job, which answers what the customer is still waiting on (shared/store/pauses.py).

Cloud Scheduler publishes the sweep to the reply topic every minute (terraform/scheduler.tf); the
local stack does the same from a thread. A job is published before the conversation's
`resume_at` is cleared, so a crash in between costs a second job, which the reply lease turns
into nothing, never a conversation left waiting.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from shared.bus import Job
from shared.clients import Clients
from shared.config import Settings
from shared.store import pauses

log = logging.getLogger(__name__)

SWEEP = "resume_sweep"  # the reason of the scheduler's job (its conversation_id is empty)
RESUME = "resume"


def sweep_job() -> Job:
    return Job("", reason=SWEEP)


def sweep(settings: Settings, clients: Clients) -> int:
    """Start a reply job in each conversation whose pause by human reply ran out; returns how many."""
    db = clients.firestore
    now = datetime.now(UTC)
    started = 0
    for conversation_id in pauses.due_resumes(db, now):
        clients.bus.publish(settings.reply_topic, Job(conversation_id, reason=RESUME))
        pauses.claim_resume(db, conversation_id, now)
        started += 1
    if started:
        log.info("assistant resumed after human replies", extra={"conversations": started})
    return started
