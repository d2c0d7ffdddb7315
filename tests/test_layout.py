"""The tree shows the system: one package per function under shared/, over adapters they share.

A function's package may import the adapters, never another function's package, and no adapter
imports a function's package; so each function deploys with, and pays at cold start for, only
what it uses. The webhook in particular answers Meta within seconds of a cold start: it must not
load Pillow, ffmpeg or the Gemini SDK.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cloud import ROOT

SHARED = ROOT / "shared"
FUNCTIONS = ("webhook", "media", "ai_reply", "dashboard")
ADAPTERS = (
    "whatsapp",
    "store",
    "bucket",
    "bus",
    "clients",
    "config",
    "deadline",
    "files",
    "knowledge",
    "log",
)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of the file (lazy imports inside functions too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def owner(module: str) -> str | None:
    """The top-level part of shared/ a module belongs to (`shared.store.inbound` -> `store`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "shared" else None


def test_shared_holds_exactly_the_four_function_packages_and_the_adapters() -> None:
    found = {p.stem if p.is_file() else p.name for p in SHARED.iterdir() if not p.name.startswith(("_", "."))}
    found.discard("py")  # no stray files
    assert found == set(FUNCTIONS) | set(ADAPTERS)
    described = (SHARED / "__init__.py").read_text(encoding="utf-8")
    for name in FUNCTIONS + ADAPTERS:
        assert name in described, f"shared/__init__.py does not name {name}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_package_imports_adapters_never_another_functions_package(function: str) -> None:
    others = set(FUNCTIONS) - {function}
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((SHARED / function).rglob("*.py"))
        for module in sorted(imported_modules(path))
        if owner(module) in others
    ]
    assert not offenders, "\n".join(offenders)


def test_no_adapter_imports_a_functions_package() -> None:
    adapter_files = [
        path
        for name in ADAPTERS
        for path in (
            [SHARED / f"{name}.py"] if (SHARED / f"{name}.py").exists() else (SHARED / name).rglob("*.py")
        )
    ]
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted(adapter_files)
        for module in sorted(imported_modules(path))
        if owner(module) in FUNCTIONS
    ]
    assert adapter_files and not offenders, "\n".join(offenders)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_main_py_only_unpacks_its_trigger_and_calls_its_own_package(function: str) -> None:
    main = ROOT / "functions" / function / "main.py"
    used = {owner(m) for m in imported_modules(main)} - {None}
    assert used <= {function, *ADAPTERS}, (
        f"{main.relative_to(ROOT)} reaches into {used - {function, *ADAPTERS}}"
    )


HEAVY = {
    "PIL": "Pillow",
    "imageio_ffmpeg": "ffmpeg",
    "google.genai": "the Gemini SDK",
    "pypdf": "pypdf",
    "docx": "python-docx",
    "google.cloud.storage": "the Storage client",
}

PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(function: str, env: dict[str, str]) -> set[str]:
    """The modules a cold instance of `function` has loaded once its main.py is imported."""
    main = ROOT / "functions" / function / "main.py"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(main)],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_a_cold_webhook_loads_no_pillow_ffmpeg_gemini_or_storage() -> None:
    modules = loaded_by(
        "webhook",
        {"WHATSAPP_APP_SECRET": "s", "WEBHOOK_VERIFY_TOKEN": "t", "GOOGLE_CLOUD_PROJECT": "demo-layout"},
    )
    loaded = [
        label for name, label in HEAVY.items() if any(m == name or m.startswith(name + ".") for m in modules)
    ]
    assert not loaded, f"the webhook loads {', '.join(loaded)} at start"
    assert "shared.webhook.http" in modules  # the probe did import the function


def test_the_guardrails_cost_the_webhook_nothing_they_run_in_the_reply_function() -> None:
    # Opt-out keywords and limits are judged by ai_reply before the model is called
    # (shared/ai_reply/guard.py); a cold webhook does not even load them.
    modules = loaded_by(
        "webhook",
        {"WHATSAPP_APP_SECRET": "s", "WEBHOOK_VERIFY_TOKEN": "t", "GOOGLE_CLOUD_PROJECT": "demo-layout"},
    )
    assert not {"shared.store.usage", "shared.store.limits", "shared.store.consent"} & modules
    assert "shared.ai_reply.guard" in imported_modules(SHARED / "ai_reply" / "burst.py")


def _calls(path: Path) -> list[tuple[int, str, ast.Call]]:
    """(line, dotted name of what is called, the call) for every call in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            found.append((node.lineno, ast.unparse(node.func), node))
    return found


def test_every_firestore_path_is_built_by_the_store() -> None:
    """Collections and documents are named in one place (shared/store/schema.py and its writers)."""
    outside = [
        f"{path.relative_to(ROOT)}:{line} {name}"
        for path in sorted(SHARED.rglob("*.py"))
        if SHARED / "store" not in path.parents
        for line, name, _ in _calls(path)
        if name.endswith((".collection", ".collection_group"))
    ]
    assert outside == [], "build Firestore paths through shared/store/schema.py:\n" + "\n".join(outside)


# A binary's path is where the machine keeps it, not a setting of the product.
READS_ITS_OWN_ENVIRONMENT = {"shared/media/ffmpeg.py": {"FFMPEG_BINARY"}}


def test_no_module_but_config_reads_the_environment() -> None:
    """Settings come from shared/config.py (Settings.from_env), handed down from each main.py."""
    reads = []
    for path in sorted(SHARED.rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative == "shared/config.py":
            continue
        for line, name, call in _calls(path):
            if name in ("os.environ.get", "os.getenv", "os.environ.__getitem__"):
                key = call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) else "?"
                if key not in READS_ITS_OWN_ENVIRONMENT.get(relative, set()):
                    reads.append(f"{relative}:{line} {name}({key!r})")
        if "os.environ[" in path.read_text():
            reads.append(f"{relative}: os.environ[...]")
    assert reads == [], "read settings through shared/config.py:\n" + "\n".join(reads)


def test_no_test_module_imports_another() -> None:
    """What several tests share lives in tests/support/ or a conftest, never in another test module."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert offenders == [], "\n".join(offenders)
