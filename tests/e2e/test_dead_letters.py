"""Dead letters replayed end to end: the command and the dashboard's button each publish a dead
job again with a fresh stamp, and its message is answered.

The dead letter is made the way Pub/Sub makes one: the customer's message is stored and its job
goes nowhere (here the AI was paused while it came, so the job was acknowledged unanswered), and
the job, stamped hours ago, waits on the reply topic's dead-letter subscription. Republished with
its old stamp (as `gcloud pubsub topics publish` would), it would only be failed as too old.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import requests

from local.stack import LocalStack
from shared.bus import Job
from tests.support.cloud import PROJECT, ROOT
from tests.support.dead_letters import DeadLetterBox
from tests.support.query_log import child_env
from tests.support.system import E2E_ENV, System


def a_message_whose_job_died(system: System, text: str) -> tuple[str, str]:
    """A customer's message left unanswered, and its job waiting as a dead letter."""
    conv = system.db.collection("conversations").document(system.conversation_id)
    conv.set({"ai_paused": True})
    wamid = system.say(text)
    system.wait_for(lambda: system.conversation().get("needs_attention"), what="the job to be acknowledged")
    conv.update({"ai_paused": False})
    box = DeadLetterBox(PROJECT, [E2E_ENV["REPLY_TOPIC"]], create=False)
    letter = box.add(E2E_ENV["REPLY_TOPIC"], Job(system.conversation_id, wamid), published_hours_ago=5)
    return wamid, letter


def answered(system: System, wamid: str) -> None:
    system.wait_for(
        lambda: next(m for m in system.messages() if m["id"] == wamid)["status"] == "answered",
        what="the message to be recorded answered",
    )


def dashboard(stack: LocalStack) -> requests.Session:
    """An operator signed in to the stack's dashboard."""
    session = requests.Session()
    base = stack.urls["dashboard"].rstrip("/")
    login = session.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    signed_in = session.post(
        f"{base}/login",
        data={"password": stack.env["DASHBOARD_PASSWORD"], "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302, signed_in.text
    return session


def test_the_replay_button_gets_a_dead_letters_message_answered(system: System, stack: LocalStack) -> None:
    wamid, letter = a_message_whose_job_died(system, "did my order ship?")
    session = dashboard(stack)
    base = stack.urls["dashboard"].rstrip("/")
    page = session.get(f"{base}/dead-letters", timeout=20).text
    assert f'data-dead-letter="{letter}"' in page and system.conversation_id in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    replayed = session.post(
        f"{base}/dead-letters/replay",
        data={"message_id": letter, "csrf_token": token},
        allow_redirects=False,
        timeout=20,
    )
    assert replayed.status_code == 303 and "notice=replayed" in replayed.headers["Location"]

    (reply,) = system.replies(1, timeout=30)
    assert reply["text"].endswith('You said: "did my order ship?"')
    answered(system, wamid)


def test_the_replay_command_gets_a_dead_letters_message_answered(system: System, stack: LocalStack) -> None:
    wamid, letter = a_message_whose_job_died(system, "hello, anyone?")
    env = {
        **os.environ,
        **{k: v for k, v in stack.env.items() if k.endswith("_EMULATOR_HOST")},
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "MEDIA_TOPIC": E2E_ENV["MEDIA_TOPIC"],
        "REPLY_TOPIC": E2E_ENV["REPLY_TOPIC"],
        **child_env(),
    }
    done = subprocess.run(
        [sys.executable, "-m", "shared.dashboard.dead_letters", "replay", letter],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (reply,) = system.replies(1, timeout=30)
    assert reply["text"].endswith('You said: "hello, anyone?"')
    answered(system, wamid)
