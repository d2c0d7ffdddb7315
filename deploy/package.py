"""Build one deployable folder per function: ``build/functions/<name>/``.

Each folder holds what Cloud Functions needs and nothing else: the function's own files
(``main.py``, ``templates/``, ``assets/``, helper modules), a copy of the repository's ``shared/``
package, and the function's own ``requirements.txt``. Terraform zips these folders
(``data "archive_file"``), so a change to any file here is a new archive and a redeploy.

Run as ``python -m deploy.package`` (``make package``). Standard library only, so it also runs in a
bare CI image before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path("build") / "functions"

# Never deployed: bytecode (rebuilt at runtime), tests, local virtualenvs and tool caches.
_IGNORED = shutil.ignore_patterns(
    "__pycache__",
    "*.pyc",
    "*.pyo",
    "tests",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".venv",
    "venv",
    ".env",
    ".DS_Store",
)


class PackagingError(RuntimeError):
    """A function folder cannot be packaged; the message says which and why."""


def discover_functions(root: Path = REPO_ROOT) -> list[str]:
    """Names of the function folders that have a ``main.py`` (folders still empty are skipped)."""
    functions_dir = root / "functions"
    if not functions_dir.is_dir():
        return []
    return sorted(p.parent.name for p in functions_dir.glob("*/main.py"))


def package_function(name: str, root: Path = REPO_ROOT, out_dir: Path | None = None) -> Path:
    """Build ``<out_dir>/<name>/`` from ``functions/<name>/`` plus ``shared/``; return its path."""
    source = root / "functions" / name
    target = _resolve_out(root, out_dir) / name
    _check_function_folder(source)
    shared = root / "shared"
    if not (shared / "__init__.py").is_file() and not any(shared.glob("*.py")):
        raise PackagingError(f"{shared} is missing: every function imports the shared package")

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=_IGNORED)
    shutil.copytree(shared, target / "shared", ignore=_IGNORED)
    return target


def package_all(
    root: Path = REPO_ROOT, out_dir: Path | None = None, names: Iterable[str] | None = None
) -> list[Path]:
    """Package ``names`` (default: every discovered function), replacing stale folders."""
    selected = list(names) if names is not None else discover_functions(root)
    known = set(discover_functions(root))
    unknown = [n for n in selected if n not in known]
    if unknown:
        raise PackagingError(f"no functions/<name>/main.py for: {', '.join(unknown)}")
    if names is None:
        # A full build must not leave a deleted function's folder behind for Terraform to zip.
        shutil.rmtree(_resolve_out(root, out_dir), ignore_errors=True)
    return [package_function(n, root, out_dir) for n in selected]


def _resolve_out(root: Path, out_dir: Path | None) -> Path:
    out = out_dir if out_dir is not None else DEFAULT_OUT
    return out if out.is_absolute() else root / out


def _check_function_folder(source: Path) -> None:
    if not (source / "main.py").is_file():
        raise PackagingError(f"{source}/main.py is missing")
    requirements = source / "requirements.txt"
    if not requirements.is_file():
        raise PackagingError(
            f"{requirements} is missing: each function lists exactly what it imports, "
            "and the build installs only that"
        )
    if (source / "shared").exists():
        raise PackagingError(f"{source}/shared would be overwritten by the repository's shared/")
    _check_requirements_are_self_contained(requirements)


def _check_requirements_are_self_contained(requirements: Path) -> None:
    """Reject lines that point outside the folder: the build sees only the packaged folder."""
    for number, raw in enumerate(requirements.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if line.startswith(("-r", "-c", "-e", "--requirement", "--constraint", "--editable")) or (
            "../" in line or line.startswith(("/", "."))
        ):
            raise PackagingError(
                f"{requirements}:{number}: {raw.strip()!r} refers to a file outside the "
                "packaged folder; list the distributions instead"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.package", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="functions to package (default: all)")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"output folder (default: {DEFAULT_OUT}, under the repo)"
    )
    args = parser.parse_args(argv)
    try:
        built = package_all(REPO_ROOT, args.out, args.names or None)
    except PackagingError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    if not built:
        print("package: no functions/*/main.py yet; nothing to package", file=sys.stderr)
    for path in built:
        print(f"packaged {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
