"""`make test` on a fresh machine: Chromium for the browser tests is installed, or the step stops
at once and says the one command to run. The logic is checked with apt-get replaced by a recorder,
so no test installs or removes a package; the real step runs once against this machine."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.infra.terraform_config import ROOT
from tests.support import chromium
from tests.support.chromium import APT_INSTALL, APT_UPDATE, ChromiumMissing, ensure_chromium


class Apt:
    """Records the commands; "installing" chromium creates the executable where Debian puts it."""

    def __init__(self, path: Path, *, installs: bool = True) -> None:
        self.path = path
        self.installs = installs
        self.commands: list[tuple[str, ...]] = []

    def __call__(self, command: Sequence[str]) -> None:
        self.commands.append(tuple(command))
        if tuple(command) == APT_INSTALL and self.installs:
            self.path.write_text("#!/bin/sh\n")
            self.path.chmod(0o755)


def test_a_machine_with_chromium_installs_nothing(tmp_path) -> None:
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    apt = Apt(browser)
    assert ensure_chromium(browser, is_root=False, has_apt=True, run=apt) == "found"
    assert apt.commands == []


def test_as_root_debians_chromium_is_installed_with_apt_get(tmp_path) -> None:
    browser = tmp_path / "chromium"
    apt = Apt(browser)
    assert ensure_chromium(browser, is_root=True, has_apt=True, run=apt) == "installed"
    assert apt.commands == [APT_UPDATE, APT_INSTALL]
    assert APT_INSTALL[:2] == ("apt-get", "install") and APT_INSTALL[-1] == "chromium"
    assert "-y" in APT_INSTALL  # no question a terminal-less run could not answer


def test_without_root_the_step_stops_at_once_with_the_one_command_to_run(tmp_path) -> None:
    apt = Apt(tmp_path / "chromium")
    with pytest.raises(ChromiumMissing) as missing:
        ensure_chromium(tmp_path / "chromium", is_root=False, has_apt=True, run=apt)
    assert apt.commands == []
    assert chromium.USER_COMMAND in str(missing.value)
    assert "apt-get install -y --no-install-recommends chromium" in chromium.USER_COMMAND
    assert chromium.USER_COMMAND.startswith("sudo ")


def test_an_install_that_leaves_no_chromium_is_reported_not_ignored(tmp_path) -> None:
    apt = Apt(tmp_path / "chromium", installs=False)
    with pytest.raises(ChromiumMissing, match="still missing"):
        ensure_chromium(tmp_path / "chromium", is_root=True, has_apt=True, run=apt)


def test_a_machine_without_apt_get_is_told_what_is_needed(tmp_path) -> None:
    with pytest.raises(ChromiumMissing, match="no apt-get"):
        ensure_chromium(tmp_path / "chromium", is_root=True, has_apt=False, run=Apt(tmp_path / "chromium"))


def test_the_step_runs_with_the_systems_python_before_the_virtualenv_exists() -> None:
    """Nothing outside the standard library, so it can stop `make test` before any install."""
    source = (ROOT / "tests" / "support" / "chromium.py").read_text(encoding="utf-8")
    imported = set(re.findall(r"^(?:from|import) ([\w.]+)", source, re.MULTILINE))
    assert imported <= set(sys.stdlib_module_names) | {"__future__", "collections.abc"}, imported


def test_make_test_runs_the_chromium_step_before_anything_else() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    prerequisites = re.search(r"^test:(.*)$", makefile, re.MULTILINE)
    assert prerequisites is not None
    assert prerequisites[1].split()[0] == "chromium"
    recipe = re.search(r"^chromium:\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe is not None and "$(PYTHON) -m tests.support.chromium" in recipe[1]
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith("make test")


def test_the_real_step_passes_on_this_machine() -> None:
    if not chromium.CHROMIUM.exists():
        pytest.skip("run `make test`: its first step installs Chromium")  # never reached under make test
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.chromium"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
