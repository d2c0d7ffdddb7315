"""The Terraform configuration as data, for tests that check it against the code.

`terraform validate` needs the providers, which cannot be downloaded here, so the checks read the
HCL itself (python-hcl2) and look at what it says: resources, locals, variables and the names its
expressions refer to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "terraform"

_OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False)

# SCREAMING_SNAKE identifiers inside HCL expressions: environment variable names.
ENV_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


@dataclass
class TerraformConfig:
    """Every block of every *.tf file under terraform/, merged."""

    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: str = ""

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        try:
            return self.resources[(kind, name)]
        except KeyError:
            raise AssertionError(f"terraform/ declares no {kind}.{name}") from None

    def resources_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: body for (k, name), body in self.resources.items() if k == kind}

    def default(self, variable: str) -> Any:
        return self.variables[variable].get("default")


@dataclass(frozen=True)
class Declaration:
    """One resource or data block, with the file it is written in."""

    file: str
    section: str  # "resource" or "data"
    kind: str
    name: str
    body: dict[str, Any]

    def __str__(self) -> str:
        prefix = "data." if self.section == "data" else ""
        return f"{self.file}: {prefix}{self.kind}.{self.name}"


def parse(text: str) -> dict[str, Any]:
    return hcl2.loads(text, serialization_options=_OPTIONS)


def declarations(directory: Path = TERRAFORM_DIR) -> list[Declaration]:
    """Every resource and data block of terraform/*.tf, in file order."""
    found = []
    for path in sorted(directory.glob("*.tf")):
        found.extend(declarations_in(parse(path.read_text(encoding="utf-8")), path.name))
    return found


def declarations_in(parsed: dict[str, Any], file: str) -> list[Declaration]:
    return [
        Declaration(file, section, kind, name, body)
        for section in ("resource", "data")
        for block in parsed.get(section, [])
        for kind, named in block.items()
        for name, body in named.items()
    ]


def load(directory: Path = TERRAFORM_DIR) -> TerraformConfig:
    config = TerraformConfig()
    texts = []
    for path in sorted(directory.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        texts.append(text)
        _merge(config, parse(text), path)
    config.text = "\n".join(texts)
    return config


def _merge(config: TerraformConfig, parsed: dict[str, Any], path: Path) -> None:
    for block in parsed.get("resource", []):
        for kind, named in block.items():
            for name, body in named.items():
                _add_unique(config.resources, (kind, name), body, path)
    for block in parsed.get("data", []):
        for kind, named in block.items():
            for name, body in named.items():
                _add_unique(config.data, (kind, name), body, path)
    for block in parsed.get("variable", []):
        for name, body in block.items():
            _add_unique(config.variables, name, body, path)
    for block in parsed.get("output", []):
        for name, body in block.items():
            _add_unique(config.outputs, name, body, path)
    for block in parsed.get("locals", []):
        for name, value in block.items():
            if name != "__is_block__":
                _add_unique(config.locals, name, value, path)


def _add_unique(target: dict, key: Any, value: Any, path: Path) -> None:
    if key in target:
        raise AssertionError(f"{key} is declared twice (again in {path.name})")
    target[key] = value


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block `name` of a resource body (hcl2 gives blocks as lists)."""
    found = body.get(name)
    if not found:
        raise AssertionError(f"missing block {name!r}")
    assert isinstance(found, list) and len(found) == 1, f"expected one {name!r} block, got {found!r}"
    return found[0]


def strings(value: Any) -> Iterator[str]:
    """Every string in a parsed value, keys included: expressions are strings to hcl2."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "__is_block__":
                yield str(key)
                yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def env_names(value: Any) -> set[str]:
    """Environment variable names a local's value mentions (map keys or literals in an expression)."""
    return {name for text in strings(value) for name in ENV_NAME.findall(text)}


def function_env_names(config: TerraformConfig, function: str) -> set[str]:
    """Every environment variable Terraform gives `function`, plain or from Secret Manager."""
    return (
        keys_of(config.locals["base_env"])
        | env_names(config.locals["optional_env"])
        | keys_of(config.locals["function_env"][function])
        | env_names(config.locals["function_secrets"][function])
    )


def keys_of(value: Any) -> set[str]:
    """Keys of a map local, whether hcl2 gave it as a dict or as a `for` expression."""
    if isinstance(value, dict):
        return {k for k in value if k != "__is_block__"}
    raise AssertionError(f"expected a literal map, got the expression {value!r}")
