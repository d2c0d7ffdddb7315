"""Webhook benchmark: latency and throughput against a floor function, and cold-start import time.

    .venv/bin/python -m bench.webhook [--c1 300] [--c16 1000] [--warmup 30] [--rounds 4] [--import-runs 7]
        [--shape bsuid|bsuid-only|phone]

(from the repository root, like every benchmark). Starts its own Firestore and Pub/Sub emulators
on free ports, creates the media and reply topics (each with a pull subscription, so messages
are retained as in production), and runs two HTTP functions under functions-framework with the
webhook's production THREADS: the webhook, and `bench/floor/main.py`, which does only one
Firestore create() and one Pub/Sub publish per request. Both get the same signed WhatsApp text
deliveries (unique wamids, a few senders, each with their phone and BSUID as Meta sends them since
April 2026 unless `--shape` says otherwise) at concurrency 1 and 16; the requests of each level are
split into rounds that alternate between the two targets, so background load hits both alike.
Beside latency and throughput, the table shows the CPU time each request cost in each process
(the function, each emulator, this client): on a small machine that is what bounds throughput.
No consumer runs, so the webhook's work is all that is measured (docs/reply-guarantees.md says
what the consumer does with each job).

Goals: webhook throughput >= 0.8 x floor, webhook p50 <= 1.25 x floor, and the import time of
the webhook's main.py <= 1.15 x that of functions_framework + Firestore + Pub/Sub alone.
Everything started here is stopped on exit, Ctrl-C or error. Not part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.support import REPO, RunLogs, percentile, run, signals_deferred, verdict
from local.emulators import FUNCTION_THREADS, ManagedProcess, free_port, start_function
from shared.whatsapp.signature import HEADER, sign
from tests.support.cloud import APP_SECRET, PROJECT, Emulators, Topics, base_env, start_emulators
from tests.support.payloads import load

SENDERS = ("16505550001", "16505550002", "16505550003", "16505550004", "16505550005")
WEBHOOK_PATH = "/webhook/whatsapp"
REQUEST_TIMEOUT = 30.0

THROUGHPUT_GOAL = 0.8  # webhook req/s >= 0.8 x floor
P50_GOAL = 1.25  # webhook p50 <= 1.25 x floor
IMPORT_GOAL = 1.15  # webhook import <= 1.15 x the libraries alone


# --- the stack ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    url: str
    sessions: dict[str, int]  # component -> session id (each started process leads a session of its own)


@dataclass
class Stack:
    firestore: ManagedProcess
    pubsub: ManagedProcess
    webhook: ManagedProcess
    floor: ManagedProcess

    def targets(self) -> dict[str, Target]:
        emulators = {"firestore": self.firestore.process.pid, "pubsub": self.pubsub.process.pid}
        return {
            name: Target(proc.url + WEBHOOK_PATH, {"function": proc.process.pid, **emulators})
            for name, proc in (("floor", self.floor), ("webhook", self.webhook))
        }


def function_env(emus: Emulators | None) -> dict[str, str]:
    """Environment of both functions: the tests' (emulators, secrets, topics), quieter logging."""
    return base_env(emus, LOG_LEVEL="WARNING")


def start_stack(stack: contextlib.ExitStack, log_dir: Path) -> Stack:
    with signals_deferred():  # each process is registered for stopping before Ctrl-C is let in
        emus = start_emulators(log_dir)
        stack.callback(emus.pubsub.stop)
        stack.callback(emus.firestore.stop)
    os.environ.update(emus.env)  # for the topics' clients
    Topics(PROJECT).create()
    env = function_env(emus)
    with signals_deferred():  # start_function returns the process only once it is ready
        # The floor runs with the webhook's THREADS, so neither queues where the other would not.
        floor = start_function(
            "floor",
            free_port(),
            env,
            log_dir,
            threads=FUNCTION_THREADS["webhook"],
            source=REPO / "bench" / "floor" / "main.py",
        )
        stack.callback(floor.stop)
        webhook = start_function("webhook", free_port(), env, log_dir)
        stack.callback(webhook.stop)
    return Stack(firestore=emus.firestore, pubsub=emus.pubsub, webhook=webhook, floor=floor)


# --- deliveries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: dict[str, str]


# Who the senders are, as a delivery names them: `bsuid` is what Meta sends since April 2026 (the
# phone and the business-scoped user id), `bsuid-only` a user with a username and no phone shared,
# `phone` a delivery from before BSUIDs.
SHAPES = ("bsuid", "bsuid-only", "phone")


def bsuid_of(sender: str) -> str:
    return f"US.{int(sender):020d}"


def make_deliveries(prefix: str, count: int, shape: str = "bsuid") -> list[Delivery]:
    """Signed text deliveries built from the fixture: a unique wamid each, senders in rotation,
    identified as `shape` says."""
    template = json.loads(load("text"))
    deliveries = []
    for i in range(count):
        data = copy.deepcopy(template)
        value = data["entry"][0]["changes"][0]["value"]
        sender = SENDERS[i % len(SENDERS)]
        contact, message = value["contacts"][0], value["messages"][0]
        contact["wa_id"] = sender
        message["from"] = sender
        if shape != "phone":
            contact["user_id"] = message["from_user_id"] = bsuid_of(sender)
            contact["profile"]["username"] = f"user{sender[-4:]}"
        if shape == "bsuid-only":
            del contact["wa_id"], message["from"]
        value["messages"][0]["id"] = f"wamid.bench.{prefix}.{i:06d}"
        value["messages"][0]["timestamp"] = str(int(time.time()))
        # Meta sends non-ASCII as \uXXXX escapes; the signature covers these exact bytes.
        body = json.dumps(data, ensure_ascii=True).encode()
        headers = {"Content-Type": "application/json", HEADER: sign(APP_SECRET, body)}
        deliveries.append(Delivery(body, headers))
    return deliveries


class DeliveryFeed:
    """Fresh deliveries for every run (a wamid is never sent twice, so every request stores one)."""

    def __init__(self, prefix: str, shape: str = "bsuid") -> None:
        self.prefix = prefix
        self.shape = shape
        self.batches = itertools.count()

    def take(self, count: int) -> list[Delivery]:
        return make_deliveries(f"{self.prefix}{next(self.batches)}", count, self.shape)


# --- load -----------------------------------------------------------------------------------------


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CPU_COMPONENTS = ("function", "firestore", "pubsub", "client")


def cpu_seconds(sessions: dict[str, int]) -> dict[str, float]:
    """CPU time used so far by each component: the live processes of its session, and this one."""
    ticks_by_session: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        fields = text[text.rfind(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
        sid = int(fields[3])
        ticks_by_session[sid] = ticks_by_session.get(sid, 0) + int(fields[11]) + int(fields[12])
    used = {name: ticks_by_session.get(sid, 0) / CLOCK_TICKS for name, sid in sessions.items()}
    own = resource.getrusage(resource.RUSAGE_SELF)
    used["client"] = own.ru_utime + own.ru_stime
    return used


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)  # seconds
    wall: float = 0.0  # seconds spent sending, all rounds together
    failures: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # component -> CPU seconds, all rounds together

    def add(self, other: Sample) -> None:
        self.latencies.extend(other.latencies)
        self.wall += other.wall
        self.failures.extend(other.failures)
        for name, seconds in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds


def _worker(
    url: str, deliveries: list[Delivery], index: Iterator[int], out: Sample, lock: threading.Lock
) -> None:
    latencies: list[float] = []
    failures: list[str] = []
    with requests.Session() as session:
        for i in index:
            if i >= len(deliveries):
                break
            delivery = deliveries[i]
            started = time.perf_counter()
            try:
                response = session.post(
                    url, data=delivery.body, headers=delivery.headers, timeout=REQUEST_TIMEOUT
                )
            except requests.RequestException as exc:
                failures.append(repr(exc))
                continue
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
    with lock:
        out.latencies.extend(latencies)
        out.failures.extend(failures)


def send(target: Target, deliveries: list[Delivery], concurrency: int) -> Sample:
    """Post every delivery, `concurrency` at a time, each worker on its own keep-alive session."""
    sample = Sample()
    index = itertools.count()  # next() on a count is atomic under the GIL
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_worker, args=(target.url, deliveries, index, sample, lock), daemon=True)
        for _ in range(concurrency)
    ]
    cpu_before = cpu_seconds(target.sessions)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sample.wall = time.perf_counter() - started
    cpu_after = cpu_seconds(target.sessions)
    sample.cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    return sample


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def measure_level(
    targets: dict[str, Target], feed: DeliveryFeed, concurrency: int, total: int, warmup: int, rounds: int
) -> dict[str, Sample]:
    """Warm every target up, then alternate between them round by round."""
    for name, target in targets.items():
        warm = send(target, feed.take(warmup), concurrency)
        if warm.failures:
            raise RuntimeError(f"warm-up of {name} failed: {warm.failures[0]}")
    samples = {name: Sample() for name in targets}
    for count in split(total, rounds):
        for name, target in targets.items():
            samples[name].add(send(target, feed.take(count), concurrency))
    return samples


# --- statistics and the report --------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    requests: int
    p50: float  # ms
    p95: float
    p99: float
    throughput: float  # req/s
    failures: int
    cpu_ms: dict[str, float]  # component -> CPU ms per request


def stats(sample: Sample) -> Stats:
    ms = [s * 1000 for s in sample.latencies] or [float("nan")]
    done = len(sample.latencies)
    return Stats(
        requests=done + len(sample.failures),
        p50=percentile(ms, 50),
        p95=percentile(ms, 95),
        p99=percentile(ms, 99),
        throughput=done / sample.wall if sample.wall else 0.0,
        failures=len(sample.failures),
        cpu_ms={name: sample.cpu.get(name, 0.0) * 1000 / max(done, 1) for name in CPU_COMPONENTS},
    )


def print_load_table(results: dict[int, dict[str, Stats]]) -> None:
    cpu_head = " ".join(f"{name[:9]:>9}" for name in (*CPU_COMPONENTS, "total"))
    print(f"\n{'':<47} {'req/s':>8}   CPU ms per request")
    print(f"{'target':<8} {'conc':>4} {'requests':>8} {'non-200':>7} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'':>8}   {cpu_head}")  # fmt: skip
    for concurrency, by_target in results.items():
        for name, s in by_target.items():
            cpu = " ".join(f"{s.cpu_ms[c]:>9.2f}" for c in CPU_COMPONENTS)
            print(
                f"{name:<8} {concurrency:>4} {s.requests:>8} {s.failures:>7} {s.p50:>7.1f} {s.p95:>7.1f} "
                f"{s.p99:>7.1f} {s.throughput:>8.1f}   {cpu} {sum(s.cpu_ms.values()):>9.2f}"
            )


def print_goals(results: dict[int, dict[str, Stats]]) -> bool:
    print(f"\n{'webhook / floor':<24} {'ratio':>6} {'goal':>7}  result")
    passed = True
    for concurrency, by_target in results.items():
        hook, floor = by_target["webhook"], by_target["floor"]
        throughput = hook.throughput / floor.throughput
        p50 = hook.p50 / floor.p50
        for label, ratio, goal, ok in (
            ("throughput", throughput, f">= {THROUGHPUT_GOAL}", throughput >= THROUGHPUT_GOAL),
            ("p50 latency", p50, f"<= {P50_GOAL}", p50 <= P50_GOAL),
        ):
            print(f"{f'c={concurrency} {label}':<24} {ratio:>6.2f} {goal:>7}  {verdict(ok)}")
            passed &= ok
    return passed


# --- cold-start import time -----------------------------------------------------------------------

IMPORT_PROBE = """\
import time
wall, cpu = time.perf_counter(), time.process_time()
{code}
print("IMPORT_SECONDS", time.perf_counter() - wall, time.process_time() - cpu)
"""

LIBRARIES = "import functions_framework\nfrom google.cloud import firestore, pubsub_v1"
WEBHOOK_MAIN = (
    "import importlib.util\n"
    f"spec = importlib.util.spec_from_file_location('main', {str(REPO / 'functions' / 'webhook' / 'main.py')!r})\n"
    "spec.loader.exec_module(importlib.util.module_from_spec(spec))"
)
# main.py imports Pub/Sub lazily (shared.clients), so its first request pays for it instead.
WEBHOOK_FIRST_REQUEST = WEBHOOK_MAIN + "\nfrom google.cloud import pubsub_v1"


def import_env(pycache: Path) -> dict[str, str]:
    """A fresh interpreter's environment with byte code cached in `pycache` (never in the repo)."""
    env = function_env(None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # set on some machines; the first run must write it
    env.update({"PYTHONPATH": str(REPO), "PYTHONPYCACHEPREFIX": str(pycache)})
    return env


@dataclass
class ImportTimes:
    wall: list[float] = field(default_factory=list)  # seconds, one per fresh process
    cpu: list[float] = field(default_factory=list)  # CPU seconds (less disturbed by other processes)


def time_import(code: str, env: dict[str, str]) -> tuple[float, float]:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE.format(code=code)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("IMPORT_SECONDS"))
    _, wall, cpu = line.split()
    return float(wall), float(cpu)


BASELINE = "functions_framework + firestore + pubsub_v1"
IMPORT_PROBES = {
    BASELINE: LIBRARIES,
    "webhook main.py": WEBHOOK_MAIN,
    "webhook main.py + pubsub_v1 (1st request)": WEBHOOK_FIRST_REQUEST,
}


def measure_imports(runs: int) -> dict[str, ImportTimes]:
    """Import time of each probe in fresh processes (runs interleaved, byte code warm)."""
    pycache = Path(tempfile.mkdtemp(prefix="bench-pycache-"))
    try:
        env = import_env(pycache)
        for code in IMPORT_PROBES.values():
            time_import(code, env)  # compiles the byte code once, untimed
        times = {name: ImportTimes() for name in IMPORT_PROBES}
        for _ in range(runs):
            for name, code in IMPORT_PROBES.items():
                wall, cpu = time_import(code, env)
                times[name].wall.append(wall)
                times[name].cpu.append(cpu)
    finally:
        shutil.rmtree(pycache, ignore_errors=True)
    return times


def print_imports(times: dict[str, ImportTimes], runs: int) -> bool:
    """Medians of wall and CPU time; the goal is judged on CPU, which other processes disturb less."""
    print(f"\ncold-start import time, {runs} fresh processes each (byte code cached)")
    print(f"  {'':<44} {'wall med':>8} {'wall min':>8} {'CPU med':>8} {'wall x':>7} {'CPU x':>6}")
    base = times[BASELINE]
    base_wall, base_cpu = statistics.median(base.wall), statistics.median(base.cpu)
    passed = True
    for name, t in times.items():
        wall, cpu = statistics.median(t.wall), statistics.median(t.cpu)
        row = f"  {name:<44} {wall * 1000:>6.0f}ms {min(t.wall) * 1000:>6.0f}ms {cpu * 1000:>6.0f}ms"
        if name == BASELINE:
            print(row)
            continue
        ratio = cpu / base_cpu
        passed &= ratio <= IMPORT_GOAL
        print(
            f"{row} {wall / base_wall:>7.2f} {ratio:>6.2f}  {verdict(ratio <= IMPORT_GOAL)} (CPU x <= {IMPORT_GOAL})"
        )
    return passed


# --- main -----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--c1", type=int, default=300, help="measured requests at concurrency 1")
    parser.add_argument("--c16", type=int, default=1000, help="measured requests at concurrency 16")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests per target and level")
    parser.add_argument("--rounds", type=int, default=4, help="alternations between the targets per level")
    parser.add_argument(
        "--import-runs", type=int, default=7, help="fresh processes per import probe (0: skip)"
    )
    parser.add_argument(
        "--shape",
        choices=SHAPES,
        default="bsuid",
        help="how deliveries name the user: phone and BSUID (Meta's since April 2026), BSUID only, or phone only",
    )
    return parser.parse_args()


def run_load(args: argparse.Namespace, log_dir: Path) -> dict[int, dict[str, Stats]]:
    results: dict[int, dict[str, Stats]] = {}
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        procs = start_stack(stack, log_dir)
        print(f"stack up in {time.monotonic() - started:.1f}s; logs in {log_dir}", flush=True)
        targets = procs.targets()
        feed = DeliveryFeed(f"{os.getpid()}.{int(time.time())}.", args.shape)
        print(f"deliveries: {args.shape}", flush=True)
        for concurrency, total in ((1, args.c1), (16, args.c16)):
            level_started = time.monotonic()
            samples = measure_level(targets, feed, concurrency, total, args.warmup, args.rounds)
            results[concurrency] = {name: stats(sample) for name, sample in samples.items()}
            print(f"c={concurrency} done in {time.monotonic() - level_started:.1f}s", flush=True)
            for name, sample in samples.items():
                for failure in sample.failures[:3]:
                    print(f"  {name} failure: {failure}")
    return results


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    with RunLogs("bench-webhook-") as logs:
        imports = measure_imports(args.import_runs) if args.import_runs > 0 else None
        results = run_load(args, logs.path)
        print_load_table(results)
        load_ok = print_goals(results)
        imports_ok = print_imports(imports, args.import_runs) if imports else True
        failures = sum(s.failures for by_target in results.values() for s in by_target.values())
        logs.keep = failures > 0
        print(f"\ntotal {time.monotonic() - started:.0f}s; goals {verdict(load_ok and imports_ok)}")
    return 1 if failures else 0


if __name__ == "__main__":
    run(main)
