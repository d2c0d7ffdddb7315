"""`python -m local.simulator` runs the simulator on its own, configured by flags and the stack's names."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[3]


def test_the_command_serves_the_chat_page_with_its_flags_and_environment_then_stops_on_sigterm():
    env = {**os.environ, "SIMULATOR_PHONE_NUMBER_ID": "100000000000777"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.simulator", "--port", "0", "--no-auto-read"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner = proc.stdout.readline()
        found = re.search(r"chat page (http://127\.0\.0\.1:\d+)/\s+Graph API (\S+)", banner)
        assert found, banner
        url, graph = found.groups()

        assert graph == f"{url}/v27.0"
        assert "phone_number_id=100000000000777" in proc.stdout.readline()
        assert 'dir="auto"' in requests.get(f"{url}/", timeout=5).text
        config = requests.get(f"{url}/_sim/config", timeout=5).json()
        assert (config["phone_number_id"], config["auto_read"]) == ("100000000000777", False)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
