"""The whole system on one machine: emulators, functions, push subscriptions, simulators.

`make dev` runs it in the foreground (local/devstack.py); the end-to-end tests run the same
stack on free ports. Pub/Sub pushes to the functions on the path
`/projects/{project}/topics/{topic}` so functions-framework builds the same CloudEvent `source`
as Eventarc does in production, and each push subscription has a retry policy and a
dead-letter topic like the Terraform ones.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.emulators import (
    ManagedProcess,
    create_bucket,
    free_port,
    start_firestore,
    start_function,
    start_pubsub,
    start_storage,
    wait_http,
)
from local.servers import RunningServer

ROOT = Path(__file__).resolve().parent.parent

# Default ports of `make dev` (each can be changed through the environment variable named after it).
DEFAULT_PORTS = {
    "WEBHOOK_PORT": 8081,
    "MEDIA_PORT": 8082,
    "AI_REPLY_PORT": 8083,
    "DASHBOARD_PORT": 8084,
    "SIMULATOR_PORT": 8090,
    "OFFLINE_MODEL_PORT": 8092,
    "FIRESTORE_PORT": 8086,
    "PUBSUB_PORT": 8085,
    "STORAGE_PORT": 9023,
}
# An emulator the user already runs: `*_EMULATOR_HOST` names it, and the stack then starts none
# of its own on `*_PORT`.
EMULATOR_HOSTS = {
    "FIRESTORE_EMULATOR_HOST": ("Firestore", "FIRESTORE_PORT"),
    "PUBSUB_EMULATOR_HOST": ("Pub/Sub", "PUBSUB_PORT"),
    "STORAGE_EMULATOR_HOST": ("Cloud Storage", "STORAGE_PORT"),
}
EVENT_FUNCTIONS = {"media": "MEDIA_TOPIC", "ai_reply": "REPLY_TOPIC"}
FUNCTION_PORTS = {
    "webhook": "WEBHOOK_PORT",
    "media": "MEDIA_PORT",
    "ai_reply": "AI_REPLY_PORT",
    "dashboard": "DASHBOARD_PORT",
}
LOCAL_SECRETS = {
    "WHATSAPP_API_TOKEN": "local-access-token",
    "WHATSAPP_APP_SECRET": "local-app-secret",
    "WEBHOOK_VERIFY_TOKEN": "local-verify-token",
}


# The simulator's WAHA session (local/simulator/waha.py), served here as business number `waha-default`.
LOCAL_WAHA = {
    "WAHA_SESSION": "default",
    "WAHA_API_KEY": "local-waha-api-key",
    "WAHA_WEBHOOK_HMAC_KEY": "local-waha-hmac-key",
}


class EmulatorUnreachable(RuntimeError):
    """A `*_EMULATOR_HOST` names an emulator nobody answers for; the message says what to do."""


def unreachable_emulators(
    user_env: Mapping[str, str], origins: Mapping[str, str] | None = None, *, timeout: float = 2.0
) -> list[str]:
    """What is wrong with each `*_EMULATOR_HOST` given, as one message each (empty: all answer).

    Every client library would otherwise retry against the address for minutes without a word:
    the stack would seem to start and then hang on its first Firestore or Pub/Sub call.
    """
    problems = []
    for setting, (service, port_setting) in EMULATOR_HOSTS.items():
        value = user_env.get(setting)
        if not value:
            continue
        where = f" (set in {origins[setting]})" if origins and setting in origins else ""
        host, port = _host_and_port(value)
        if port is None:
            problems.append(f"{setting}={value}{where} has no port; it must look like 127.0.0.1:8086")
            continue
        why = http_unanswered(host, port, timeout)
        if why is None:
            continue
        problems.append(
            f"{setting}={value}{where} says a {service} emulator runs there, but nothing answers ({why}).\n"
            f"  Start it first:  {_start_command(setting, host, port, user_env)}\n"
            f"  or remove {setting}, and `make dev` starts its own "
            f"(on {port_setting}, default {DEFAULT_PORTS[port_setting]})."
        )
    return problems


def _host_and_port(value: str) -> tuple[str, int | None]:
    address = value.split("://", 1)[-1].rstrip("/")
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return address, None
    return host.strip("[]"), int(port)


def http_unanswered(host: str, port: int, timeout: float) -> str | None:
    """None when an HTTP server answers at host:port (every emulator serves GET /), else why not."""
    import requests

    try:
        requests.get(f"http://{host}:{port}/", timeout=timeout).close()
    except requests.ConnectionError as exc:
        refused = "refused" in str(exc).lower()
        return "connection refused" if refused else f"cannot connect: {type(exc).__name__}"
    except requests.Timeout:
        return f"no answer within {timeout:g} s"
    except requests.RequestException as exc:
        return f"not an HTTP server: {type(exc).__name__}"
    return None


def _start_command(setting: str, host: str, port: int, user_env: Mapping[str, str]) -> str:
    project = user_env.get("GOOGLE_CLOUD_PROJECT") or user_env.get("GOOGLE_CLOUD_PROJECT_ID") or "demo-local"
    if setting == "FIRESTORE_EMULATOR_HOST":
        return f"gcloud emulators firestore start --host-port={host}:{port}"
    if setting == "PUBSUB_EMULATOR_HOST":
        return f"gcloud beta emulators pubsub start --host-port={host}:{port} --project={project}"
    bucket = user_env.get("MEDIA_BUCKET") or f"{project}-media"
    return f".venv/bin/gcp-storage-emulator start --host={host} --port={port} --in-memory --default-bucket={bucket}"


def existing_functions() -> list[str]:
    """Every function of the repository (a folder under functions/ with a main.py)."""
    return sorted(p.parent.name for p in (ROOT / "functions").glob("*/main.py"))


@dataclass
class StackOptions:
    project: str = "demo-local"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    user_env: Mapping[str, str] = field(default_factory=dict)  # wins over every local default
    log_dir: Path = ROOT / "artifacts" / "dev"
    functions: list[str] = field(default_factory=existing_functions)
    push_min_backoff_s: int = 1
    push_max_backoff_s: int = 10
    max_delivery_attempts: int = 10  # as Terraform's default
    ack_deadline_s: int = 120
    resume_sweep_s: float = 60.0  # Cloud Scheduler's resume sweep (terraform/scheduler.tf), every minute
    extra_function_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, **kwargs: Any) -> StackOptions:
        return cls(ports={name: free_port() for name in DEFAULT_PORTS}, **kwargs)


@dataclass
class LocalStack:
    options: StackOptions
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    servers: dict[str, RunningServer[Any]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    offline_model: bool = False
    simulated_whatsapp: bool = False
    sweeps: Any = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> LocalStack:
        try:
            self._start_emulators()
            self._configure()
            self._start_simulators()
            self._start_functions()
            self._create_topics()
            self._start_sweeps()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.sweeps is not None:
            self.sweeps.stop()
            self.sweeps = None
        for name in reversed(list(self.servers)):
            with contextlib.suppress(Exception):
                self.servers.pop(name).stop()
        for name in reversed(list(self.processes)):
            self.processes.pop(name).stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- parts ---------------------------------------------------------------------------------

    def port(self, name: str) -> int:
        return int(self.options.user_env.get(name) or self.options.ports[name])

    def _start_emulators(self) -> None:
        """Start each emulator, unless the environment names one already running (then use it)."""
        log_dir = self.options.log_dir
        user = self.options.user_env
        problems = unreachable_emulators(user)
        if problems:
            raise EmulatorUnreachable("\n".join(problems))
        bucket = user.get("MEDIA_BUCKET") or f"{self.options.project}-media"
        starters = {
            "firestore": ("FIRESTORE_EMULATOR_HOST", "FIRESTORE_PORT", lambda p: start_firestore(p, log_dir)),
            "pubsub": (
                "PUBSUB_EMULATOR_HOST",
                "PUBSUB_PORT",
                lambda p: start_pubsub(p, self.options.project, log_dir),
            ),
            "storage": ("STORAGE_EMULATOR_HOST", "STORAGE_PORT", lambda p: start_storage(p, bucket, log_dir)),
        }
        for name, (host_setting, port_setting, start) in starters.items():
            if user.get(host_setting):
                self.env[host_setting] = user[host_setting]
                continue
            self.processes[name] = start(self.port(port_setting))
        for name in ("firestore", "pubsub", "storage"):
            if name in self.processes:
                wait_http(self.processes[name])
                self.env.update(self.processes[name].env)
        self.env["MEDIA_BUCKET"] = bucket
        # The operators' audit trail has a bucket of its own, as in production (terraform/audit.tf).
        audit = user.get("AUDIT_BUCKET") or f"{self.options.project}-audit"
        create_bucket(self.env["STORAGE_EMULATOR_HOST"], self.options.project, audit)
        self.env["AUDIT_BUCKET"] = audit

    def _configure(self) -> None:
        user = self.options.user_env
        self.env.update(
            {
                "GOOGLE_CLOUD_PROJECT": self.options.project,
                "MEDIA_TOPIC": "whatsapp-media",
                "REPLY_TOPIC": "whatsapp-reply",
                "DASHBOARD_PASSWORD": "dev",
                "DASHBOARD_SESSION_SECRET": secrets.token_urlsafe(32),
                "LOG_LEVEL": "INFO",
                **LOCAL_SECRETS,
            }
        )
        self.simulated_whatsapp = not user.get("WHATSAPP_API_URL")
        self.offline_model = not (
            user.get("GEMINI_API_KEY") or user.get("GEMINI_BASE_URL") or user.get("GOOGLE_GENAI_USE_VERTEXAI")
        )
        self.env.update(self.options.extra_function_env)
        self.env.update({k: v for k, v in user.items() if v})

    def _start_simulators(self) -> None:
        if self.offline_model:
            from local.offline_gemini import start_offline_gemini

            model = start_offline_gemini(port=self.port("OFFLINE_MODEL_PORT"))
            self.servers["offline_model"] = model
            self.env["GEMINI_BASE_URL"] = model.url
            self.urls["offline model"] = model.url
        if self.simulated_whatsapp:
            from local.simulator import graph_api_url, start_simulator, waha_api_url

            # Beside the Cloud API number, a WAHA session (the chat page picks the number), unless
            # the user points WAHA_URL at a WAHA server of their own.
            waha = not self.options.user_env.get("WAHA_URL")
            if waha:
                self.env.update({k: v for k, v in LOCAL_WAHA.items() if not self.options.user_env.get(k)})
            webhook = f"http://127.0.0.1:{self.port('WEBHOOK_PORT')}"
            simulator = start_simulator(
                port=self.port("SIMULATOR_PORT"),
                webhook_url=f"{webhook}/webhook/whatsapp",
                app_secret=self.env["WHATSAPP_APP_SECRET"],
                access_token=self.env["WHATSAPP_API_TOKEN"],
                verify_token=self.env["WEBHOOK_VERIFY_TOKEN"],
                # Like Meta: only templates once 24 hours (by the simulator's clock) have passed.
                enforce_service_window=True,
                waha_webhook_url=f"{webhook}/webhook/waha" if waha else None,
                waha_api_key=self.env.get("WAHA_API_KEY") or LOCAL_WAHA["WAHA_API_KEY"],
                waha_hmac_key=self.env.get("WAHA_WEBHOOK_HMAC_KEY") or LOCAL_WAHA["WAHA_WEBHOOK_HMAC_KEY"],
            )
            self.servers["simulator"] = simulator
            self.env["WHATSAPP_API_URL"] = graph_api_url(simulator)
            if waha:
                self.env["WAHA_URL"] = waha_api_url(simulator)
            self.urls["WhatsApp simulator (chat as a customer)"] = simulator.url + "/"

    def _start_functions(self) -> None:
        for name in self.options.functions:
            self.processes[name] = self._start_function(name)
        if "webhook" in self.processes:
            self.urls["webhook"] = self.processes["webhook"].url + "/webhook/whatsapp"
        if "dashboard" in self.processes:
            self.urls["dashboard"] = self.processes["dashboard"].url + "/"

    def _start_function(self, name: str) -> ManagedProcess:
        signature = "cloudevent" if name in EVENT_FUNCTIONS else "http"
        port = self.port(FUNCTION_PORTS[name])
        return start_function(name, port, dict(self.env), self.options.log_dir, signature_type=signature)

    def kill_function(self, name: str) -> None:
        """SIGKILL a function's instance mid-work and start a fresh one in its place.

        What Cloud Run does to an instance at its timeout or its memory limit: nothing in it runs
        again, not even a `finally`. The new instance serves the same address, as the next
        instance would behind the function's URL.
        """
        proc = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.process.pid, signal.SIGKILL)
        proc.stop()  # reaps it and waits until the port is free
        self.processes[name] = self._start_function(name)

    def _start_sweeps(self) -> None:
        from local.scheduler import ResumeSweeps

        self.sweeps = ResumeSweeps(
            self.options.project,
            self.env["REPLY_TOPIC"],
            self.env["PUBSUB_EMULATOR_HOST"],
            self.options.resume_sweep_s,
        ).start()

    def _create_topics(self) -> None:
        """Topics, dead-letter topics and push subscriptions to the event functions."""
        from google.api_core import exceptions as gexc
        from google.cloud import pubsub_v1
        from google.protobuf.duration_pb2 import Duration

        with _environment(PUBSUB_EMULATOR_HOST=self.env["PUBSUB_EMULATOR_HOST"]):
            publisher = pubsub_v1.PublisherClient()
            subscriber = pubsub_v1.SubscriberClient()
        project = self.options.project
        for function, topic_setting in EVENT_FUNCTIONS.items():
            topic_name = self.env[topic_setting]
            topic = publisher.topic_path(project, topic_name)
            dead = publisher.topic_path(project, f"{topic_name}-dead-letter")
            for path in (topic, dead):
                with contextlib.suppress(gexc.AlreadyExists):
                    publisher.create_topic(request={"name": path})
            with contextlib.suppress(gexc.AlreadyExists):
                subscriber.create_subscription(
                    request={
                        "name": subscriber.subscription_path(project, f"{topic_name}-dead-letter"),
                        "topic": dead,
                    }
                )
            if function not in self.processes:
                continue  # the topic still exists, so publishers work; its jobs wait until the function does
            endpoint = f"{self.processes[function].url}/projects/{project}/topics/{topic_name}"
            with contextlib.suppress(gexc.AlreadyExists):
                subscriber.create_subscription(
                    request={
                        "name": subscriber.subscription_path(project, f"{topic_name}-{function}"),
                        "topic": topic,
                        "push_config": {"push_endpoint": endpoint},
                        "ack_deadline_seconds": self.options.ack_deadline_s,
                        "retry_policy": {
                            "minimum_backoff": Duration(seconds=self.options.push_min_backoff_s),
                            "maximum_backoff": Duration(seconds=self.options.push_max_backoff_s),
                        },
                        "dead_letter_policy": {
                            "dead_letter_topic": dead,
                            "max_delivery_attempts": self.options.max_delivery_attempts,
                        },
                    }
                )


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Clients read the emulator hosts from the environment when they are created."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
