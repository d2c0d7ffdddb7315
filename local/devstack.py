"""`make dev`: the whole system on this machine, until Ctrl-C or SIGTERM.

Settings come from the environment and from `.env` (the environment wins); anything not set
gets a local default: emulators, the WhatsApp simulator instead of Meta, the offline model
instead of Gemini.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from local.emulators import port_is_free
from local.stack import DEFAULT_PORTS, EMULATOR_HOSTS, ROOT, LocalStack, StackOptions, unreachable_emulators
from shared.config import SETTING_NAMES


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; `#` comments and blank lines skipped; surrounding quotes removed."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise SystemExit(f"{path}:{number}: expected KEY=VALUE, got {line!r}")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def user_settings() -> dict[str, str]:
    known = set(SETTING_NAMES) | set(DEFAULT_PORTS) | set(EMULATOR_HOSTS) | {"GOOGLE_CLOUD_PROJECT_ID"}
    merged = {**read_dotenv(ROOT / ".env"), **os.environ}
    return {k: v for k, v in merged.items() if k in known and v}


def origin(name: str) -> str:
    """Where a user setting came from, for messages: the environment wins over .env."""
    return "the environment" if os.environ.get(name) else ".env"


def check_emulator_hosts(options: StackOptions) -> None:
    """Stop at once when a `*_EMULATOR_HOST` names an emulator that does not answer."""
    given = {name: origin(name) for name in EMULATOR_HOSTS if options.user_env.get(name)}
    problems = unreachable_emulators(options.user_env, given)
    if problems:
        raise SystemExit("\n\n".join(problems))


def check_ports(options: StackOptions) -> None:
    # The port of an emulator named by its *_EMULATOR_HOST is that emulator's, not ours to take.
    theirs = {port for host, (_, port) in EMULATOR_HOSTS.items() if options.user_env.get(host)}
    busy = [
        f"{name}={options.user_env.get(name) or port}"
        for name, port in options.ports.items()
        if name not in theirs and not port_is_free(int(options.user_env.get(name) or port))
    ]
    if busy:
        raise SystemExit(
            "these ports are in use (another `make dev` still running?): "
            + ", ".join(busy)
            + "\nstop it, or choose other ports with those environment variables"
        )


def banner(stack: LocalStack) -> str:
    lines = ["", "The local stack is running. Ctrl-C stops everything.", ""]
    width = max(len(k) for k in stack.urls) + 2
    lines += [f"  {name:<{width}} {url}" for name, url in stack.urls.items()]
    if "dashboard" in stack.urls and not stack.env.get("IAP_AUDIENCE"):
        lines.append(f"  {'dashboard password':<{width}} {stack.env['DASHBOARD_PASSWORD']}")
    lines.append("")
    if stack.offline_model:
        lines.append("  MODEL: OFFLINE. Answers come from a local stand-in that reports what it received;")
        lines.append("         set GEMINI_API_KEY (in the environment or .env) for real answers.")
    else:
        lines.append(f"  model: {stack.env.get('GEMINI_MODEL', 'default')} via Gemini")
    if stack.simulated_whatsapp:
        lines.append("  WhatsApp: simulated. Open the simulator page above and write as a customer.")
    lines.append(f"  logs: {stack.options.log_dir}")
    return "\n".join(lines)


def main() -> None:
    options = StackOptions(user_env=user_settings())
    options.project = options.user_env.get("GOOGLE_CLOUD_PROJECT") or options.user_env.get(
        "GOOGLE_CLOUD_PROJECT_ID", options.project
    )
    check_emulator_hosts(options)
    check_ports(options)
    stopping = threading.Event()
    # SIGTERM is turned into the same orderly stop as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    print("starting the emulators, the simulators and the functions...", flush=True)
    stack = LocalStack(options)
    try:
        stack.start()
        print(banner(stack), flush=True)
        while not stopping.wait(1.0):
            dead = [name for name, proc in stack.processes.items() if not proc.running()]
            if dead:
                print(f"stopped unexpectedly: {', '.join(dead)}; see {options.log_dir}", file=sys.stderr)
                break
    finally:
        print("stopping...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
