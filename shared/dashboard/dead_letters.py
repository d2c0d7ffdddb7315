"""Dead letters: the jobs Pub/Sub gave up on, each with the message it is about and why it failed,
and their replay.

A job lands on its topic's dead-letter subscription only when no delivery of it could even
settle it (a Firestore outage outlasting every retry, a bug): the message it is about is still
unsettled. Replaying starts that message's job again the way an operator's Retry does
(`store.jobs.restart_job`, attempts back at zero) and publishes it with a fresh `published_at`,
so it is not taken for lost again at once, then acknowledges the dead letter. A dead letter whose
message has been settled since is acknowledged with nothing republished.

The dashboard's dead-letter page uses this module, and so does the command an operator runs
with their own credentials (docs/deploy.md, "Dead letters"):

    python -m shared.dashboard.dead_letters list
    python -m shared.dashboard.dead_letters replay --all
    python -m shared.dashboard.dead_letters replay PUBSUB_MESSAGE_ID [...]
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.bus import DeadLetter, DeadLetters, Job, JobBus
from shared.dashboard.conversations import CONVERSATION_ID
from shared.dashboard.cursors import DOCUMENT_ID
from shared.store import jobs
from shared.store.schema import CALL, CALL_TIMEOUT, ai_responses, message_ref

log = logging.getLogger(__name__)

KINDS = (jobs.JobKind.MEDIA, jobs.JobKind.REPLY)


@dataclass(frozen=True)
class DeadLetterRow:
    """One dead letter as the operator sees it."""

    kind: jobs.JobKind
    letter: DeadLetter
    conversation_id: str
    message_id: str
    message_type: str
    preview: str
    status: str  # the message's, "" when the job names none or it is gone
    reason: str  # why it failed, as recorded on the message (or its reply, or its media)

    @property
    def id(self) -> str:
        return self.letter.pubsub_message_id

    @property
    def dead_since(self) -> datetime | None:
        return self.letter.dead_since


@dataclass(frozen=True)
class DeadLetterPage:
    rows: list[DeadLetterRow]
    missing: list[str]  # dead-letter subscriptions that do not exist: a deployment to fix


def list_dead_letters(
    db: firestore.Client, dead_letters: DeadLetters, topics: Mapping[jobs.JobKind, str], limit: int = 100
) -> DeadLetterPage:
    """Every dead letter waiting (up to `limit` per topic), newest first, left where it waits."""
    letters: list[tuple[jobs.JobKind, DeadLetter]] = []
    missing = []
    for kind in KINDS:
        try:
            letters += [(kind, letter) for letter in dead_letters.look(topics[kind], limit)]
        except gexc.NotFound:
            log.error("a dead-letter subscription does not exist", extra={"topic": topics[kind]})
            missing.append(dead_letters.subscription_path(topics[kind]))
    refs = {
        letter.pubsub_message_id: message_ref(db, letter.job.conversation_id, letter.job.message_id)
        for _, letter in letters
        if letter.job is not None and letter.job.message_id and _usable_ids(letter.job)
    }
    found = (
        {s.reference.path: s.to_dict() or {} for s in db.get_all(list(refs.values()), timeout=CALL_TIMEOUT)}
        if refs
        else {}
    )
    rows = []
    for kind, letter in letters:
        job = letter.job
        ref = refs.get(letter.pubsub_message_id)
        data = found.get(ref.path, {}) if ref is not None else {}
        reply_error = (
            _open_reply_error(db, job) if job is not None and kind is jobs.JobKind.REPLY and data else ""
        )
        rows.append(
            DeadLetterRow(
                kind=kind,
                letter=letter,
                conversation_id=job.conversation_id if job else "",
                message_id=job.message_id if job else "",
                message_type=str(data.get("type") or ""),
                preview=" ".join(str(data.get("text") or "").split())[:120],
                status=str(data.get("status") or ""),
                reason=letter.problem or _reason(data, reply_error),
            )
        )
    rows.sort(key=lambda r: r.dead_since.timestamp() if r.dead_since else 0.0, reverse=True)
    return DeadLetterPage(rows, missing)


def _usable_ids(job: Job) -> bool:
    return bool(CONVERSATION_ID.match(job.conversation_id) and DOCUMENT_ID.match(job.message_id))


def _reason(data: Mapping[str, Any], reply_error: str) -> str:
    """What the message's record says went wrong, most telling first."""
    error = data.get("error")
    if isinstance(error, Mapping) and (error.get("title") or error.get("detail")):
        return ": ".join(str(error[k]) for k in ("title", "detail") if error.get(k))
    if reply_error:
        return reply_error
    media = data.get("media")
    if isinstance(media, Mapping):
        for name in ("failure_reason", "last_error"):
            if media.get(name):
                return str(media[name])
        if media.get("attempts"):
            return f"{media['attempts']} attempts at its media did not finish"
    return "No failure was recorded on the message: its job never got far enough to record one"


def _open_reply_error(db: firestore.Client, job: Job) -> str:
    """The error of a reply still being worked on for this message, if one was recorded."""
    query = ai_responses(db, job.conversation_id).where(
        filter=FieldFilter("message_ids", "array_contains", job.message_id)
    )
    for snap in query.stream(**CALL):
        error = (snap.to_dict() or {}).get("error")
        if isinstance(error, Mapping) and error.get("title"):
            return str(error["title"])
    return ""


# -- replaying -------------------------------------------------------------------------------------


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)  # Pub/Sub message ids published again
    settled: list[str] = field(default_factory=list)  # acknowledged: their message needs nothing
    failed: list[str] = field(default_factory=list)  # left waiting: could not be published again

    @property
    def handled(self) -> int:
        return len(self.replayed) + len(self.settled)


def replay(
    db: firestore.Client,
    bus: JobBus,
    dead_letters: DeadLetters,
    topics: Mapping[jobs.JobKind, str],
    *,
    operator: str,
    message_ids: set[str] | None = None,
    kinds: tuple[jobs.JobKind, ...] = KINDS,
) -> ReplayReport:
    """Replay the dead letters with these Pub/Sub message ids (every one, for None)."""
    report = ReplayReport()
    for kind in kinds:
        topic = topics[kind]
        for letter in dead_letters.take(topic, message_ids):
            try:
                outcome = _replay_one(db, bus, topics, kind, letter, operator)
            except Exception:
                log.exception(
                    "could not replay a dead letter", extra={"pubsub_message_id": letter.pubsub_message_id}
                )
                dead_letters.give_back(topic, [letter])
                report.failed.append(letter.pubsub_message_id)
                continue
            dead_letters.done(topic, [letter])
            (report.replayed if outcome else report.settled).append(letter.pubsub_message_id)
    log.info(
        "dead letters replayed",
        extra={
            "replayed": len(report.replayed),
            "settled": len(report.settled),
            "failed": len(report.failed),
        },
    )
    return report


def _replay_one(
    db: firestore.Client,
    bus: JobBus,
    topics: Mapping[jobs.JobKind, str],
    kind: jobs.JobKind,
    letter: DeadLetter,
    operator: str,
) -> bool:
    """Publish the letter's job again (True), or find nothing to do for it (False)."""
    job = letter.job
    if job is None:
        log.warning("an unreadable dead letter was dropped", extra={"problem": letter.problem})
        return False
    if not job.message_id:  # a job about the whole conversation: published as it was, stamped anew
        bus.publish(topics[kind], Job(job.conversation_id, reason=job.reason))
        return True
    snapshot = message_ref(db, job.conversation_id, job.message_id).get(**CALL)
    if not snapshot.exists:
        return False
    for _ in range(3):
        try:
            restart = jobs.restart_job(db, snapshot, job.conversation_id, operator=operator, force=True)
            break
        except gexc.FailedPrecondition:  # the message moved meanwhile: look again
            snapshot = snapshot.reference.get(**CALL)
    else:
        raise RuntimeError(f"message {job.message_id} kept changing while its dead letter was replayed")
    if not isinstance(restart, jobs.Restart):
        return False
    try:
        bus.publish(topics[restart.kind], Job(job.conversation_id, job.message_id, reason="replay"))
    except Exception:
        jobs.give_back(db, restart, snapshot.to_dict() or {})
        raise
    return True


# -- the command -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from shared.clients import Clients
    from shared.config import Settings
    from shared.log import setup_logging

    parser = argparse.ArgumentParser(
        prog="python -m shared.dashboard.dead_letters",
        description="List or replay the jobs waiting on the dead-letter subscriptions.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="show each dead letter with its message and why it failed")
    replaying = commands.add_parser("replay", help="publish dead letters again, with a fresh stamp")
    replaying.add_argument("--all", action="store_true", help="every dead letter waiting")
    replaying.add_argument("ids", nargs="*", metavar="PUBSUB_MESSAGE_ID", help="as `list` shows them")
    replaying.add_argument("--topic", choices=[k.value for k in KINDS], help="only this topic's dead letters")
    args = parser.parse_args(argv)
    if args.command == "replay" and bool(args.all) == bool(args.ids):
        parser.error("replay takes --all or the Pub/Sub message ids to replay, not both")

    settings = Settings.from_env().require("google_cloud_project")
    setup_logging(settings.log_level)
    clients = Clients(settings)
    topics = {jobs.JobKind.MEDIA: settings.media_topic, jobs.JobKind.REPLY: settings.reply_topic}
    if args.command == "list":
        page = list_dead_letters(clients.firestore, clients.dead_letters, topics)
        for path in page.missing:
            print(f"missing: {path} does not exist", file=sys.stderr)
        rows = page.rows
        for row in rows:
            print(
                f"{row.id}\t{row.kind.value}\t{row.dead_since.isoformat() if row.dead_since else '-'}\t"
                f"{row.conversation_id}\t{row.message_id or '(whole conversation)'}\t{row.status or '-'}\t{row.reason}"
            )
        print(f"{len(rows)} dead letter(s)", file=sys.stderr)
        return 0
    report = replay(
        clients.firestore,
        clients.bus,
        clients.dead_letters,
        topics,
        operator=f"command:{getpass.getuser()}",
        message_ids=None if args.all else set(args.ids),
        kinds=tuple(k for k in KINDS if args.topic in (None, k.value)),
    )
    print(
        f"replayed {len(report.replayed)}, already settled {len(report.settled)}, failed {len(report.failed)}",
        file=sys.stderr,
    )
    missing = set() if args.all else set(args.ids) - set(report.replayed + report.settled + report.failed)
    if missing:
        print(
            f"not waiting (replayed or acknowledged already?): {', '.join(sorted(missing))}", file=sys.stderr
        )
    return 1 if report.failed or missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
