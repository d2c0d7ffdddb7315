"""Erasing a customer's data: the dashboard's "Delete this customer's data" and a command for scripts.

    python -m shared.dashboard.erasure erase 15551234567 --number PHONE_NUMBER_ID --operator you@example.com
    python -m shared.dashboard.erasure erase 15551234567 US.13491208655302741918 --all-numbers --operator you@example.com
    python -m shared.dashboard.erasure resume ERASURE_ID      # finish one that was interrupted
    python -m shared.dashboard.erasure list                   # erasures not finished yet

Per conversation, the media objects go first (every object under its folder of the bucket, a
page at a time), then its Firestore documents (`shared.store.erasure`), the conversation last;
then the quarantined webhook bodies that name the customer. Each step counts what it deleted
on the erasure's record, which ends holding who asked, when and how much went, and nothing
about the customer. Nothing here touches another customer's data, so an export or a reply
running for someone else meanwhile is unaffected.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import re
import sys
from datetime import UTC, datetime

from google.cloud import firestore

from shared.bucket import MediaBucket
from shared.store import erasure as records
from shared.store.erasure import Erasure

log = logging.getLogger(__name__)

# A phone number's digits, a BSUID (`US.1349...`), or the id a provider keeps for a user whose
# number is hidden (`lid.123`).
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
PHONE_NUMBER_ID = re.compile(r"^[0-9]{1,20}$")


def erase_customer(
    db: firestore.Client,
    bucket: MediaBucket,
    identifiers: list[str],
    *,
    phone_number_id: str | None,
    operator: str,
    via: str,
) -> Erasure:
    """Erase the customer known by `identifiers` (their phone, their user id) on one business
    number, or on every one (`phone_number_id` None)."""
    bad = [i for i in identifiers if not IDENTIFIER.match(i)]
    if bad or not identifiers:
        raise ValueError(f"not a WhatsApp phone number or user id: {', '.join(bad) or '(none)'}")
    if phone_number_id is not None and not PHONE_NUMBER_ID.match(phone_number_id):
        raise ValueError(f"not a phone number id (digits only): {phone_number_id!r}")
    erasure = records.start(db, identifiers, phone_number_id=phone_number_id, operator=operator, via=via)
    log.info("erasure started", extra={"erasure_id": erasure.id, "operator": operator})
    return resume(db, bucket, erasure)


def confirms(typed: str, identifier: str) -> bool:
    """Whether what the operator typed is the customer's id ("+1 555 123 4567" for 15551234567)."""
    given = "".join(typed.split()).removeprefix("+")
    if identifier.isdigit():
        given = "".join(ch for ch in given if ch.isdigit())
    return bool(identifier) and given == identifier


def resume(db: firestore.Client, bucket: MediaBucket, erasure: Erasure) -> Erasure:
    """Do what `erasure` still has to do; safe to run again after any interruption."""
    for conv_id in list(erasure.pending_conversations):
        while names := bucket.conversation_objects(conv_id):
            records.count(db, erasure, "media_objects", sum(bucket.delete(name) for name in names))
        records.erase_conversation_documents(db, erasure, conv_id)
    if erasure.identifiers:
        records.erase_quarantine_entries(db, erasure)
    records.finish(db, erasure)
    log.info("erasure finished", extra={"erasure_id": erasure.id, "counts": erasure.counts})
    return erasure


def summary(erasure: Erasure) -> str:
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in sorted(erasure.counts.items()) if n)
    return f"erasure {erasure.id} {erasure.state}: {counts or 'nothing was stored'}"


def main(argv: list[str] | None = None) -> int:
    from shared.clients import Clients
    from shared.config import Settings
    from shared.dashboard.audit import Action, AuditRecord, AuditTrail
    from shared.log import setup_logging

    parser = argparse.ArgumentParser(
        prog="python -m shared.dashboard.erasure",
        description="Erase a customer's data (messages, AI responses, media, quarantine entries), resumably.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    erasing = commands.add_parser("erase", help="erase one customer's data")
    erasing.add_argument(
        "identifiers",
        nargs="+",
        metavar="ID",
        help="the customer's phone number (digits) and/or user id (BSUID)",
    )
    where = erasing.add_mutually_exclusive_group(required=True)
    where.add_argument("--number", metavar="PHONE_NUMBER_ID", help="on this business number only")
    where.add_argument("--all-numbers", action="store_true", help="on every business number")
    erasing.add_argument("--operator", default="", help="who asks (recorded); default: this user")
    resuming = commands.add_parser("resume", help="finish an erasure that was interrupted")
    resuming.add_argument("erasure_id")
    commands.add_parser("list", help="erasures not finished yet")
    args = parser.parse_args(argv)

    settings = Settings.from_env().require("google_cloud_project", "media_bucket")
    setup_logging(settings.log_level)
    clients = Clients(settings)
    db = clients.firestore
    operator = getattr(args, "operator", "") or f"command:{getpass.getuser()}"
    if args.command == "list":
        for pending in records.unfinished(db):
            print(
                f"{pending.id}\t{pending.data.get('requested_by')}\t{len(pending.pending_conversations)} left"
            )
        return 0
    if args.command == "resume":
        found = records.load(db, args.erasure_id)
        if found is None:
            print(f"no erasure {args.erasure_id}", file=sys.stderr)
            return 1
        done = resume(db, clients.bucket, found)
    else:
        try:
            done = erase_customer(
                db,
                clients.bucket,
                [i.removeprefix("+") for i in args.identifiers],
                phone_number_id=None if args.all_numbers else args.number,
                operator=operator,
                via="command",
            )
        except ValueError as exc:
            parser.error(str(exc))
    AuditTrail(lambda: clients.storage, settings.audit_bucket).record(
        AuditRecord(
            datetime.now(UTC),
            operator,
            Action.ERASURE,
            f"erasure {done.id}",
            done.state,
            summary(done),
            "command",
        )
    )
    print(summary(done))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
