"""Knowledge benchmark: the latency retrieval adds to each reply, and the Knowledge page's ingestion rate.

    .venv/bin/python -m bench.knowledge [--documents 200] [--sections 25] [--questions 100]

(from the repository root, like every benchmark). Starts its own Firestore emulator and the
offline model (embeddings without a key), runs the dashboard under functions-framework (local
login) and uploads `--documents` Markdown documents through the Knowledge page (half for one
business number, half for another), one request each as an operator would, each with
`--sections` headed sections (one passage each: 200 x 25 = 5,000 passages by default), timing
every upload. Then it asks `--questions` questions:

- the search alone (`shared.ai_reply.grounding.ground`: the number's documents looked up, the
  question embedded, Firestore's find_nearest, the passages' documents checked);
- a reply's preparation as `BurstReply._generate` runs it (the search started in the background,
  the number's voice and the conversation's last 20 messages read meanwhile, then the search
  awaited), for a number with documents and for one without: the difference of the two p50s
  is what retrieval adds to a reply.

Goal: retrieval adds at most 50 ms at p50 locally. The offline model embeds in microseconds;
Gemini's embedding call adds its round trip (tens of milliseconds) in production. The Firestore
emulator answers queries by scanning, and slower the more the database holds: the last line
gives its time for a limit(1) query on an empty collection beside the 5,000 passages, the
floor under every query here. Not part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from bench.support import REPO, load_average, percentile, run, verdict
from local.emulators import ManagedProcess, free_port, start_firestore, start_function, wait_http
from local.offline_gemini import start_offline_gemini
from shared.ai_reply.grounding import ground
from shared.clients import Clients
from shared.config import Settings

PROJECT = "demo-bench-knowledge"
PASSWORD = "bench-password"
SESSION_SECRET = "bench-session-secret-0123456789abcdef"
PHONE_NUMBER_ID = "100000000000001"
SECOND_NUMBER_ID = "100000000000002"  # the other half of the documents
OTHER_NUMBER_ID = "100000000000999"  # has no documents
LOG_DIR = REPO / "artifacts" / "logs" / "bench-knowledge"
GOAL_P50_MS = 50.0

TOPICS = [
    "opening hours", "delivery", "returns", "payment", "parking", "allergens", "gift cards",
    "catering", "birthday cakes", "vegan pastries", "coffee beans", "loyalty card", "wholesale",
    "gluten free bread", "custom orders", "pickup", "holidays", "prices", "sizes", "packaging",
]  # fmt: skip
WORDS = [
    "fresh",
    "bread",
    "pastry",
    "cake",
    "croissant",
    "flour",
    "butter",
    "sugar",
    "oven",
    "morning",
    "order",
    "box",
    "dozen",
    "price",
    "euro",
    "shop",
    "street",
    "lisbon",
    "porto",
    "delivery",
    "courier",
    "van",
    "driver",
    "receipt",
    "card",
    "cash",
    "refund",
    "week",
    "saturday",
    "sunday",
    "holiday",
    "table",
    "terrace",
    "coffee",
    "espresso",
    "milk",
    "almond",
    "lemon",
    "cinnamon",
    "chocolate",
    "vanilla",
    "recipe",
    "baker",
    "team",
    "customer",
    "phone",
    "email",
    "website",
    "booking",
    "party",
    "wedding",
]


def document(rng: random.Random, number: int, sections: int) -> str:
    """A Markdown document of `sections` headed sections of about 600 characters each."""
    parts = [f"# Shop handbook {number}"]
    for s in range(sections):
        topic = rng.choice(TOPICS)
        body = " ".join(rng.choice(WORDS) for _ in range(90))
        parts.append(f"## {topic.title()} {number}-{s}\n\n{body.capitalize()}.")
    return "\n\n".join(parts)


def signed_in(base_url: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = session.post(
        f"{base_url}/login",
        data={"password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return session, session.cookies["dashboard_csrf"]


def upload_all(base_url: str, documents: int, sections: int) -> tuple[list[float], int]:
    """Upload every document through the Knowledge page; (seconds per upload, failures)."""
    session, csrf = signed_in(base_url)
    rng = random.Random(7)
    times: list[float] = []
    failures = 0
    for number in range(documents):
        data = document(rng, number, sections).encode()
        started = time.perf_counter()
        response = session.post(
            f"{base_url}/knowledge",
            data={"csrf_token": csrf, "scope": PHONE_NUMBER_ID if number % 2 else SECOND_NUMBER_ID},
            files={"document": (f"handbook-{number}.md", data, "text/markdown")},
            allow_redirects=False,
            timeout=120,
        )
        times.append(time.perf_counter() - started)
        if response.status_code != 303:
            failures += 1
        if (number + 1) % 25 == 0:
            print(f"  {number + 1} documents uploaded", flush=True)
    return times, failures


def seed_conversation(db: Any, number: str, messages: int = 20) -> str:
    """A conversation of `messages` earlier messages on `number`, for the history read."""
    from shared.store.schema import conversation_id, conversation_ref

    conv = conversation_id(number, "15550000001")
    now = datetime.now(UTC)
    batch = db.batch()
    batch.set(
        conversation_ref(db, conv),
        {"phone_number_id": number, "wa_id": "15550000001", "last_message_at": now},
    )
    for m in range(messages):
        at = now - timedelta(minutes=messages - m)
        direction = "inbound" if m % 2 == 0 else "outbound"
        batch.set(
            conversation_ref(db, conv).collection("messages").document(f"wamid.bench{number}-{m}"),
            {
                "direction": direction,
                "type": "text",
                "text": f"message {m} about {TOPICS[m % len(TOPICS)]}",
                "status": "answered" if direction == "inbound" else "read",
                "created_at": at,
                "received_at": at,
            },
        )
    batch.commit()
    return conv


def preparation_times(settings: Settings, clients: Clients, questions: int) -> dict[str, list[float]]:
    """Milliseconds from a reply's start to its contents being ready, as BurstReply._generate runs
    it, in three cases taken in turn each round (so the machine's load weighs on all alike)."""
    from shared.ai_reply.prompt import bound_history, build_contents, lead_with
    from shared.ai_reply.voice import voice_for
    from shared.store import replies

    cases = {
        "with the search": (PHONE_NUMBER_ID, True),
        "no search": (PHONE_NUMBER_ID, False),
        "number without documents": (OTHER_NUMBER_ID, True),
    }
    conversations = {number: seed_conversation(clients.firestore, number) for number, _ in cases.values()}
    rng = random.Random(13)
    times: dict[str, list[float]] = {name: [] for name in cases}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i in range(questions + 3):
            burst = [{"id": "wamid.new", "direction": "inbound", "text": f"What about {rng.choice(TOPICS)}?"}]
            for name, (number, search) in cases.items():
                started = time.perf_counter()
                pending = (
                    pool.submit(ground, clients, settings, number, burst, last_attempt=False)
                    if search
                    else None
                )
                voice_for(clients.firestore, number, settings)
                recent = replies.recent_messages(
                    clients.firestore, conversations[number], settings.reply_history_turns + 1
                )
                contents = build_contents(bound_history(recent, 20, 12_000), burst, {})
                if pending is not None and (part := pending.result().part()) is not None:
                    lead_with(contents, part)
                if i >= 3:
                    times[name].append((time.perf_counter() - started) * 1000)
    return times


def emulator_floor(db: Any, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        list(db.collection("bench_empty").limit(1).stream())
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:])


def retrieval_times(
    settings: Settings, clients: Clients, number: str, questions: int
) -> tuple[list[float], int]:
    """Milliseconds of each reply's retrieval step, and how many questions found passages."""
    rng = random.Random(11)
    times: list[float] = []
    found = 0
    for i in range(questions + 3):
        topic = rng.choice(TOPICS)
        burst = [
            {"text": f"Hi! What about {topic}? Do you have {rng.choice(WORDS)} and {rng.choice(WORDS)}?"}
        ]
        started = time.perf_counter()
        grounding = ground(clients, settings, number, burst, last_attempt=False)
        elapsed = (time.perf_counter() - started) * 1000
        if i >= 3:  # the first few warm connections and the emulator's query plans
            times.append(elapsed)
            found += bool(grounding.retrieved.passages)
    return times, found


@contextlib.contextmanager
def running(proc: ManagedProcess) -> Iterator[ManagedProcess]:
    try:
        yield proc
    finally:
        proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--sections", type=int, default=25, help="headed sections (passages) per document")
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        emulator = stack.enter_context(running(start_firestore(free_port(), LOG_DIR)))
        wait_http(emulator)
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host_port
        model = stack.enter_context(start_offline_gemini())
        env = {
            "FIRESTORE_EMULATOR_HOST": emulator.host_port,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "DASHBOARD_PASSWORD": PASSWORD,
            "DASHBOARD_SESSION_SECRET": SESSION_SECRET,
            "GEMINI_BASE_URL": model.url,
            "LOG_LEVEL": "WARNING",
        }
        dashboard = stack.enter_context(running(start_function("dashboard", free_port(), env, LOG_DIR)))
        print(f"uploading {args.documents} documents x {args.sections} sections ...", flush=True)
        started = time.perf_counter()
        uploads, failures = upload_all(dashboard.url, args.documents, args.sections)
        wall = time.perf_counter() - started

        settings = Settings(google_cloud_project=PROJECT, gemini_base_url=model.url)
        clients = Clients(settings)
        from shared.store.schema import knowledge_passages

        passages = knowledge_passages(clients.firestore).count().get()[0][0].value
        served, found = retrieval_times(settings, clients, PHONE_NUMBER_ID, args.questions)
        prepared = preparation_times(settings, clients, args.questions)
        with_knowledge, without_search = prepared["with the search"], prepared["no search"]
        without_documents = prepared["number without documents"]
        floor = emulator_floor(clients.firestore)
        load = load_average()

    def row(name: str, values: list[float]) -> str:
        return f"{name:<52}{percentile(values, 50):>7.1f}ms{percentile(values, 95):>8.1f}ms"

    added = percentile(with_knowledge, 50) - percentile(without_search, 50)
    print(
        f"\nknowledge base: {args.documents - failures} documents, {passages:,} passages ({failures} uploads failed)"
    )
    print(f"{'':<52}{'p50':>9}{'p95':>10}")
    print(row("search alone (embed, find_nearest, document check)", served))
    print(row("reply preparation, with the search", with_knowledge))
    print(row("reply preparation, no search", without_search))
    print(row("reply preparation, number without documents", without_documents))
    print(
        f"{'added by retrieval per reply (p50 difference)':<52}{added:>7.1f}ms   goal <= {GOAL_P50_MS:.0f} ms: {verdict(added <= GOAL_P50_MS)}"
    )
    print(f"questions that found passages: {found} of {len(served)}")
    rate = passages / wall if wall else 0.0
    print(
        f"Knowledge page ingestion: {args.documents / wall:.1f} documents/s, {rate:.0f} passages/s "
        f"(upload p50 {statistics.median(uploads) * 1000:.0f} ms, p95 {percentile(uploads, 95) * 1000:.0f} ms each)"
    )
    print(f"emulator floor: a limit(1) query on an empty collection takes {floor:.1f} ms (p50)")
    print(load)


if __name__ == "__main__":
    run(main)
