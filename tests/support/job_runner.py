"""Run one delivery of a job in a process of its own, so a test can kill it mid-work.

`python -m tests.support.job_runner media|reply CONVERSATION_ID [MESSAGE_ID]` reads its settings
from the environment, as a function instance does, and handles one delivery the way the
function's main.py would. A test SIGKILLs it to stand for what Cloud Run does at a function's
timeout or the kernel at its memory limit: no exception, no `finally`, nothing written after.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start(kind: str, conversation_id: str, message_id: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.job_runner", kind, conversation_id, message_id],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def main(argv: list[str]) -> None:
    from shared.bus import Job, ReceivedJob
    from shared.clients import Clients
    from shared.config import Settings
    from shared.log import setup_logging

    kind, conversation_id, message_id = [*argv, ""][:3]
    settings = Settings.from_env()
    setup_logging(settings.log_level)
    received = ReceivedJob(Job(conversation_id, message_id), f"runner-{kind}-{message_id}", datetime.now(UTC))
    clients = Clients(settings)
    if kind == "media":
        from shared.media.job import handle_media_job

        handle_media_job(received, settings, clients)
    elif kind == "reply":
        from shared.ai_reply.job import handle_reply_job

        handle_reply_job(received, settings, clients)
    else:
        raise SystemExit(f"unknown job kind {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
