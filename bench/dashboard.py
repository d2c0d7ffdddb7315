"""Dashboard benchmark: every page's answer time with a realistic amount of data in the emulator.

    .venv/bin/python -m bench.dashboard [--conversations 10000] [--messages 20] [--repeat 7]
    .venv/bin/python -m bench.dashboard --firestore 127.0.0.1:8080 --no-seed   # reuse seeded data

(from the repository root, like every benchmark). Starts its own Firestore emulator on a free port (unless --firestore names one), seeds it with
batched writes from a few threads: conversations (default 10,000) with their messages (default
20 each, so 200,000) and the AI responses of the replies among them, two weeks of daily counters
and a hundred quarantined bodies. Then it runs the dashboard under functions-framework (local
login), signs in, and asks for each page `--repeat` times after one warm-up request, printing the
median and the slowest answer. Goal: every page answers in 300 ms.

The Firestore emulator answers every query on `messages` by scanning all of them, whatever the
parent (about 250-450 ms for 200,000 on a 2-core machine, depending on the documents' size and
the machine's load); production Firestore serves the same query from an index. The last lines
print the emulator's own time for the cheapest form of each query, to compare with the pages. Not part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from google.cloud import firestore

from bench.support import REPO, run
from local.emulators import ManagedProcess, free_port, start_firestore, start_function, wait_http
from shared.store import stats

PROJECT = "demo-bench-dashboard"
PASSWORD = "bench-password"
SESSION_SECRET = "bench-session-secret-0123456789abcdef"
PHONE_NUMBER_ID = "100000000000001"
LOG_DIR = REPO / "artifacts" / "logs" / "bench-dashboard"
GOAL_MS = 300.0
BATCH_LIMIT = 500
WRITER_THREADS = 4

FIRST_NAMES = [
    "Kerry", "Ana", "Maria", "José", "Lucía", "Omar", "Fatima", "Yusuf", "Noa", "Daniel", "Chen",
    "Priya", "Aiko", "Olga", "Marta", "Lars", "Amara", "Tomás", "Sofía", "Hugo",
    "مريم", "أحمد", "יעל", "דוד",
]  # fmt: skip
LAST_NAMES = [
    "Fisher",
    "García",
    "Silva",
    "Haddad",
    "Cohen",
    "Wang",
    "Patel",
    "Sato",
    "Ivanova",
    "Berg",
    "Okafor",
]
INBOUND_TYPES = ["text"] * 70 + ["image"] * 10 + ["audio"] * 8 + ["document"] * 4 + ["video"] * 3
INBOUND_TYPES += ["location"] * 2 + ["sticker"] * 2 + ["reaction"]
WORDS = [
    "hello",
    "order",
    "delivery",
    "price",
    "today",
    "tomorrow",
    "thanks",
    "please",
    "address",
    "parcel",
    "size",
    "colour",
    "refund",
    "open",
]


# -- seeding ---------------------------------------------------------------------------------------


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + rng.choice([".", "?", "!"])


def inbound_document(rng: random.Random, wamid: str, at: datetime, conv_id: str) -> dict[str, Any]:
    kind = rng.choice(INBOUND_TYPES)
    doc: dict[str, Any] = {
        "wamid": wamid,
        "direction": "inbound",
        "type": kind,
        "text": sentence(rng, rng.randint(3, 30)) if kind in ("text", "image", "video", "document") else "",
        "sender": conv_id.split("_", 1)[1],
        "timestamp": at,
        "received_at": at,
        "created_at": at,
        "status": "answered",
        "reply_to": None,
        "forwarded": False,
        "error": None,
    }
    if kind in ("image", "audio", "video", "document", "sticker"):
        digest = f"{rng.getrandbits(256):064x}"
        doc["media"] = {
            "id": f"media-{wamid}",
            "mime_type": {"image": "image/jpeg", "audio": "audio/ogg", "video": "video/mp4"}.get(
                kind, "application/pdf"
            ),
            "status": "ready",
            "size_bytes": rng.randint(10_000, 3_000_000),
            "gcs_uri": f"gs://bench-media/conversations/{conv_id}/original/{digest}.bin",
            "transcript": sentence(rng, 12) if kind == "audio" else None,
            "text_excerpt": sentence(rng, 40) if kind == "document" else None,
        }
    if kind == "location":
        doc["location"] = {
            "latitude": 40.4168,
            "longitude": -3.7038,
            "name": "Puerta del Sol",
            "address": "Madrid",
        }
    if kind == "reaction":
        doc["reaction"] = {"message_id": "wamid.x", "emoji": "👍"}
    return doc


def conversation_writes(
    rng: random.Random, index: int, messages: int, now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """(document path, data) of one conversation, its messages and its AI responses."""
    wa_id = f"1555{index:07d}"
    conv_id = f"{PHONE_NUMBER_ID}_{wa_id}"
    conv_path = f"conversations/{conv_id}"
    # ~15 % of conversations were active in the last day, the rest over the last month.
    age = timedelta(hours=rng.uniform(0, 24)) if rng.random() < 0.15 else timedelta(days=rng.uniform(1, 30))
    last = now - age
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    writes: list[tuple[str, dict[str, Any]]] = []
    preview = ""
    for m in range(messages):
        at = last - timedelta(minutes=2 * (messages - 1 - m))
        if m % 2 == 0:
            wamid = f"wamid.bench{index:07d}in{m:03d}"
            doc = inbound_document(rng, wamid, at, conv_id)
        else:
            wamid = f"wamid.bench{index:07d}out{m:03d}"
            reply_id = f"{index:07d}r{m:03d}"
            text = sentence(rng, rng.randint(8, 60))
            doc = {
                "wamid": wamid,
                "direction": "outbound",
                "type": "text",
                "text": text,
                "to": wa_id,
                "sent_by": "ai",
                "status": rng.choice(["read", "read", "delivered", "sent"]),
                "status_times": {"accepted": at},
                "created_at": at,
                "reply_to": None,
                "ai_response_id": reply_id,
                "error": None,
            }
            writes.append(
                (
                    f"{conv_path}/ai_responses/{reply_id}",
                    {
                        "state": "sent",
                        "model": "gemini-3.8-flash",
                        "message_ids": [f"wamid.bench{index:07d}in{m - 1:03d}"],
                        "text": text,
                        "input_tokens": rng.randint(200, 3000),
                        "output_tokens": rng.randint(20, 300),
                        "latency_ms": rng.randint(500, 6000),
                        "finish_reason": "STOP",
                        "created_at": at,
                    },
                )
            )
        preview = doc["text"][:120] or f"[{doc['type']}]"
        writes.append((f"{conv_path}/messages/{wamid}", doc))
    writes.append(
        (
            conv_path,
            {
                "wa_id": wa_id,
                "phone_number_id": PHONE_NUMBER_ID,
                "display_name": name,
                "display_name_lower": name.lower(),
                "created_at": last - timedelta(minutes=2 * messages),
                "last_message_at": last,
                "last_inbound_at": last - timedelta(minutes=2),
                "last_message_preview": preview,
                "message_count": messages,
                "ai_paused": rng.random() < 0.02,
                "needs_attention": rng.random() < 0.03,
                "has_failure": rng.random() < 0.01,
            },
        )
    )
    return writes


def stats_writes(db: firestore.Client, now: datetime) -> None:
    rng = random.Random(7)
    batch = db.batch()
    for days_ago in range(14):
        when = now - timedelta(days=days_ago)
        for i in range(rng.randint(40, 80)):
            key = f"{days_ago}-{i}"
            stats.add_stat_increments(
                batch, db, when, stats.inbound_message_stored(rng.choice(INBOUND_TYPES)), key
            )
            latency = rng.lognormvariate(7.6, 0.5)
            reply = {
                **stats.model_answered(
                    input_tokens=rng.randint(200, 3000),
                    output_tokens=rng.randint(20, 300),
                    latency_ms=latency * 0.8,
                ),
                **stats.ai_reply_sent(reply_latency_ms=latency),
            }
            stats.add_stat_increments(batch, db, when, reply, f"r{key}")
            stats.add_stat_increments(batch, db, when, stats.outbound_message_recorded("ai"), f"o{key}")
        batch.commit()
        batch = db.batch()


def quarantine_writes(now: datetime, count: int = 100) -> Iterator[tuple[str, dict[str, Any]]]:
    for i in range(count):
        body = (
            '{"object": "whatsapp_business_account", "entry": "not a list", "padding": "' + "x" * 2000 + '"}'
        )
        yield (
            f"quarantine/bench{i:04d}",
            {
                "reason": "entry is not a list",
                "path": "entry",
                "part": None,
                "body": body,
                "truncated": False,
                "size_bytes": len(body),
                "sha256": f"{i:064x}",
                "received_at": now - timedelta(hours=i),
            },
        )


def commit_all(db: firestore.Client, writes: list[tuple[str, dict[str, Any]]]) -> None:
    for start in range(0, len(writes), BATCH_LIMIT):
        batch = db.batch()
        for path, data in writes[start : start + BATCH_LIMIT]:
            batch.set(db.document(path), data)
        batch.commit(timeout=120)


def seed(db: firestore.Client, conversations: int, messages: int) -> None:
    now = datetime.now(UTC)
    per_chunk = max(1, BATCH_LIMIT // (messages + messages // 2 + 1))
    chunks = [range(s, min(s + per_chunk, conversations)) for s in range(0, conversations, per_chunk)]

    def write_chunk(chunk: range) -> int:
        rng = random.Random(chunk.start)
        writes = [w for i in chunk for w in conversation_writes(rng, i, messages, now)]
        commit_all(db, writes)
        return len(writes)

    started = time.perf_counter()
    written = 0
    with ThreadPoolExecutor(WRITER_THREADS) as pool:
        for count in pool.map(write_chunk, chunks):
            written += count
            if written % 50_000 < count:
                print(
                    f"  {written:,} documents ({written / (time.perf_counter() - started):,.0f}/s)",
                    flush=True,
                )
    commit_all(db, list(quarantine_writes(now)))
    stats_writes(db, now)
    lifetime = db.batch()  # what is counted as each conversation starts
    stats.add_lifetime_increments(lifetime, db, {"conversations": conversations}, "seed")
    lifetime.commit()
    print(f"seeded {written:,} documents in {time.perf_counter() - started:.0f} s", flush=True)


# -- measuring -------------------------------------------------------------------------------------


def signed_in(base_url: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = session.post(
        f"{base_url}/login",
        data={"password": PASSWORD, "csrf_token": token, "next": "/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return session


def timed(call: Callable[[], requests.Response], repeat: int) -> tuple[float, float, int]:
    call()  # warm-up: the first request pays for connections and template compilation
    times = []
    status = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return statistics.median(times), max(times), status


def pages(session: requests.Session, base_url: str) -> list[tuple[str, str]]:
    """The pages to time, with real cursors and ids found by following the dashboard's own links."""
    listing = session.get(f"{base_url}/conversations", timeout=30).text
    conversation = re.search(r'data-conversation-id="([^"]+)"', listing).group(1)
    second = re.search(r'href="(/conversations\?after=[^"]+)"', listing).group(1).replace("&amp;", "&")
    thread = session.get(f"{base_url}/conversations/{conversation}", timeout=30).text
    seen = re.search(r'data-seen="([^"]+)"', thread).group(1)
    newest = re.search(r'data-newest="([^"]+)"', thread).group(1)
    watched = re.findall(r'data-message-id="([^"]+)"[^>]*data-final="0"', thread)
    live_query = requests.compat.urlencode(
        [("seen", seen), ("newest", newest)] + [("watch", w) for w in watched]
    )
    quarantine = session.get(f"{base_url}/quarantine", timeout=30).text
    entry = re.search(r'href="(/quarantine/[^"]+)"', quarantine).group(1)
    return [
        ("overview", "/"),
        ("conversations", "/conversations"),
        ("conversations, page 2", second),
        ("conversations, needs attention", "/conversations?filter=attention"),
        ("conversations, AI paused", "/conversations?filter=paused"),
        ("conversations, failed", "/conversations?filter=failed"),
        ("search by number", "/conversations?q=155500012"),
        ("search by name", "/conversations?q=maria"),
        ("conversation", f"/conversations/{conversation}"),
        ("live poll, nothing new", f"/conversations/{conversation}/live?{live_query}"),
        (
            "live list poll",
            "/conversations/live?since=" + requests.utils.quote(datetime.now(UTC).isoformat()),
        ),
        ("quarantine", "/quarantine"),
        ("quarantine entry", entry),
    ]


def emulator_floor(db: firestore.Client, repeat: int) -> dict[str, float]:
    """The emulator's own time for the cheapest form of the queries the slow pages need."""
    conv = next(iter(db.collection("conversations").limit(1).stream())).reference
    probes: dict[str, Callable[[], Any]] = {
        "count() of all conversations": lambda: db.collection("conversations").count().get(),
        "one conversation's messages, limit(1)": lambda: list(conv.collection("messages").limit(1).stream()),
        "a 100-document collection, limit(1)": lambda: list(db.collection("quarantine").limit(1).stream()),
    }
    floors = {}
    for name, probe in probes.items():
        probe()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            probe()
            times.append((time.perf_counter() - started) * 1000)
        floors[name] = statistics.median(times)
    return floors


@contextlib.contextmanager
def running(proc: ManagedProcess) -> Iterator[ManagedProcess]:
    try:
        yield proc
    finally:
        proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=20, help="messages per conversation")
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page (after one warm-up)")
    parser.add_argument("--firestore", help="host:port of a running emulator to use instead of starting one")
    parser.add_argument("--no-seed", action="store_true", help="use the data already in --firestore")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        if args.firestore:
            host_port = args.firestore
        else:
            emulator = stack.enter_context(running(start_firestore(free_port(), LOG_DIR)))
            wait_http(emulator)
            host_port = emulator.host_port
        os.environ["FIRESTORE_EMULATOR_HOST"] = host_port
        db = firestore.Client(project=PROJECT)
        if not args.no_seed:
            print(f"seeding {args.conversations:,} conversations x {args.messages} messages ...", flush=True)
            seed(db, args.conversations, args.messages)
        env = {
            "FIRESTORE_EMULATOR_HOST": host_port,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "DASHBOARD_PASSWORD": PASSWORD,
            "DASHBOARD_SESSION_SECRET": SESSION_SECRET,
            "LOG_LEVEL": "WARNING",
        }
        dashboard = stack.enter_context(running(start_function("dashboard", free_port(), env, LOG_DIR)))
        session = signed_in(dashboard.url)
        rows = []
        for name, path in pages(session, dashboard.url):
            median, slowest, status = timed(
                lambda p=path: session.get(dashboard.url + p, timeout=30), args.repeat
            )
            rows.append((name, median, slowest, status))
        floors = emulator_floor(db, args.repeat)

    width = max(len(r[0]) for r in rows)
    print(f"\n{'page':<{width}}  {'median':>9}  {'slowest':>9}  status  goal {GOAL_MS:.0f} ms")
    for name, median, slowest, status in rows:
        verdict = "ok" if median <= GOAL_MS else "SLOW"
        print(f"{name:<{width}}  {median:>7.0f}ms  {slowest:>7.0f}ms  {status:>6}  {verdict}")
    print("\nthe emulator alone (median), for comparison:")
    for name, median in floors.items():
        print(f"  {name:<{width + 8}} {median:>7.0f}ms")


if __name__ == "__main__":
    run(main)
