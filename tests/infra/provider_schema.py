"""Holds resource and data blocks against the providers' schema, as `terraform validate` would.

The schema is provider_schema.json beside this file, extracted from the providers' prebuilt CDK
bindings by extract_provider_schema.py. What is checked here is what validate checks about the
shape of a block: every argument and nested block is one the provider knows (written as an
argument or as a block, as the schema says), every required one is there, a block meant to appear
once appears once, and the block's provider has the type (and the argument) at all. Values and
expressions are not checked: they are only known at plan time.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from tests.infra.terraform_config import Declaration

SCHEMA_FILE = Path(__file__).with_name("provider_schema.json")
REGENERATE = (
    "regenerate tests/infra/provider_schema.json with `python -m tests.infra.extract_provider_schema` "
    "(its docstring says how)"
)

# Terraform's own meta-arguments: allowed at the top of every resource or data block, whatever the
# provider, and nowhere below it (a nested `count`, as in an alert policy's trigger, is the
# provider's argument).
_CONDITION = {"arguments": {"condition": "required", "error_message": "required"}}
_DATA_LIFECYCLE = {"arguments": {}, "blocks": {"precondition": _CONDITION, "postcondition": _CONDITION}}
_RESOURCE_LIFECYCLE = {
    "arguments": {
        "create_before_destroy": "optional",
        "prevent_destroy": "optional",
        "ignore_changes": "optional",
        "replace_triggered_by": "optional",
    },
    "blocks": _DATA_LIFECYCLE["blocks"],
}
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider"}
# provisioner and connection bodies depend on the provisioner, not on the provider: not looked into.
META_BLOCKS: dict[str, dict[str, dict[str, Any] | None]] = {
    "resource": {"lifecycle": _RESOURCE_LIFECYCLE, "provisioner": None, "connection": None},
    "data": {"lifecycle": _DATA_LIFECYCLE},
}
_DYNAMIC_KEYS = {"for_each", "iterator", "labels", "content"}


@cache
def load_schema(path: Path = SCHEMA_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def provider_of(declaration: Declaration) -> str:
    """The provider a block uses: its `provider` meta-argument, else its type's prefix."""
    explicit = declaration.body.get("provider")
    if explicit is None:
        return declaration.kind.split("_", 1)[0]
    name = str(explicit).removeprefix("${").removesuffix("}")
    return name.split(".", 1)[0]  # google-beta.europe -> google-beta


def check(declaration: Declaration, schema: dict[str, Any]) -> list[str]:
    """Everything `terraform validate` would refuse about the shape of this block."""
    where = str(declaration)
    spec = schema[declaration.section].get(declaration.kind)
    if spec is None:
        return [
            f"{where}: the {declaration.section} type {declaration.kind} is not in provider_schema.json; {REGENERATE}"
        ]
    provider = provider_of(declaration)
    problems = []
    if provider not in spec["providers"]:
        problems.append(
            f"{where}: {declaration.kind} exists only in {' and '.join(spec['providers'])}, but the block "
            f"uses provider {provider} (set `provider = {spec['providers'][0]}`)"
        )
    problems += _check_body(
        declaration.body,
        spec,
        provider,
        where,
        meta_arguments=META_ARGUMENTS,
        meta_blocks=META_BLOCKS[declaration.section],
    )
    return problems


def _is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and item.get("__is_block__") for item in value)
    )


def _check_body(
    body: dict[str, Any],
    spec: dict[str, Any],
    provider: str,
    where: str,
    *,
    meta_arguments: Iterable[str] = (),
    meta_blocks: dict[str, dict[str, Any] | None] | None = None,
) -> list[str]:
    arguments: dict[str, str] = spec.get("arguments", {})
    blocks: dict[str, dict[str, Any]] = spec.get("blocks", {})
    only_in: dict[str, list[str]] = spec.get("only_in", {})
    meta_blocks = meta_blocks or {}
    problems: list[str] = []
    dynamic: set[str] = set()

    for key, value in body.items():
        if key == "__is_block__" or key in meta_arguments:
            continue
        if key in meta_blocks:
            meta = meta_blocks[key]
            if meta is not None:
                for item in value if _is_block(value) else []:
                    problems += _check_body(item, meta, provider, f"{where} > {key}")
            continue
        if key == "dynamic" and _is_dynamic(value):
            for entry in value:
                for name, generator in entry.items():
                    if name != "__is_block__":
                        problems += _check_dynamic(name, generator, blocks, only_in, provider, where)
                        dynamic.add(name)
            continue
        if key in only_in and provider not in only_in[key]:
            problems.append(
                f"{where}: {key} exists only in {' and '.join(only_in[key])}, but the block uses provider {provider}"
            )
        if key in arguments:
            if _is_block(value):
                problems.append(f"{where}: {key} is an argument (`{key} = ...`), written as a block")
            continue
        if key in blocks:
            problems += _check_blocks(key, value, blocks[key], provider, where)
            continue
        problems.append(
            f"{where}: unknown argument or block {key!r}{_suggestion(key, [*arguments, *blocks])}"
        )

    for name, need in arguments.items():
        if need == "required" and name not in body:
            problems.append(f"{where}: missing required argument {name!r}")
    for name, block in blocks.items():
        if block.get("min_items") and name not in body and name not in dynamic:
            problems.append(f"{where}: missing required block {name!r}")
    return problems


def _check_blocks(name: str, value: Any, spec: dict[str, Any], provider: str, where: str) -> list[str]:
    if not _is_block(value):
        return [f"{where}: {name} is a block (`{name} {{ ... }}`), written as an argument"]
    problems = []
    most = spec.get("max_items")
    if most is not None and len(value) > most:
        problems.append(f"{where}: {len(value)} {name} blocks, at most {most} allowed")
    for index, item in enumerate(value):
        label = f"{name}[{index}]" if len(value) > 1 else name
        problems += _check_body(item, spec, provider, f"{where} > {label}")
    return problems


def _is_dynamic(value: Any) -> bool:
    """`dynamic "name" { ... }` (hcl2 gives [{name: {...}}]), not a provider argument called dynamic."""
    return isinstance(value, list) and all(
        isinstance(entry, dict) and all(isinstance(v, dict) for k, v in entry.items() if k != "__is_block__")
        for entry in value
    )


def _check_dynamic(
    name: str,
    generator: dict[str, Any],
    blocks: dict[str, dict[str, Any]],
    only_in: dict[str, list[str]],
    provider: str,
    where: str,
) -> list[str]:
    here = f"{where} > dynamic {name!r}"
    if name not in blocks:
        return [f"{here}: {name!r} is not a block here{_suggestion(name, list(blocks))}"]
    problems = []
    if name in only_in and provider not in only_in[name]:
        problems.append(
            f"{here}: {name} exists only in {' and '.join(only_in[name])}, but the block uses provider {provider}"
        )
    unknown = set(generator) - _DYNAMIC_KEYS - {"__is_block__"}
    if unknown:
        problems.append(f"{here}: unknown {sorted(unknown)} (a dynamic block takes {sorted(_DYNAMIC_KEYS)})")
    if "for_each" not in generator:
        problems.append(f"{here}: missing for_each")
    content = generator.get("content")
    if not _is_block(content) or len(content) != 1:
        return [*problems, f"{here}: needs exactly one content block"]
    return [*problems, *_check_body(content[0], blocks[name], provider, f"{here} > content")]


def _suggestion(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ----- version constraints ------------------------------------------------------------------------

_CONSTRAINT = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?(\d+(?:\.\d+){0,2})\s*$")


def _version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    return tuple([*parts, 0, 0][:3])


def admits(constraint: str, version: str) -> bool:
    """Whether a Terraform version constraint (">= 8.7, < 9", "~> 8.7") admits `version`."""
    wanted = _version(version)
    for part in constraint.split(","):
        match = _CONSTRAINT.match(part)
        if not match:
            raise ValueError(f"cannot read the version constraint {part.strip()!r} in {constraint!r}")
        operator, bound_text = match[1] or "=", match[2]
        bound = _version(bound_text)
        if operator == "~>":
            segments = bound_text.count(".") + 1
            if segments < 2:
                raise ValueError(f"write {part.strip()!r} with a minor version, e.g. '~> {bound_text}.0'")
            # Only the rightmost given segment may grow: ~> 8.7 is >= 8.7, < 9; ~> 8.7.1 is < 8.8.
            if wanted < bound or wanted[: segments - 1] != bound[: segments - 1]:
                return False
            continue
        ok = {
            "=": wanted == bound,
            "!=": wanted != bound,
            ">": wanted > bound,
            ">=": wanted >= bound,
            "<": wanted < bound,
            "<=": wanted <= bound,
        }[operator]
        if not ok:
            return False
    return True
