"""Extract the provider schema of every resource and data source type terraform/ uses.

`terraform validate` needs the providers' plugins, which cannot be downloaded where the tests
run. The prebuilt CDK bindings of the providers on PyPI (`cdktn-provider-<name>`) are generated
from the provider's own schema and carry it in their jsii assembly: one config struct per
resource or data source, one struct per nested block, each property with its optional flag and a
link to the registry docs whose anchor is the argument's Terraform name. This script reads those
assemblies straight from the wheels and writes, for the types terraform/*.tf declares and only
those, every argument and nested block with whether it is required into provider_schema.json
beside this file, which tests/infra/test_provider_schema.py holds the configuration against.

Regenerate it when terraform/ starts using a type the JSON lacks, or to move to newer providers
(then make the constraints in terraform/versions.tf admit the versions the JSON records):

    pip download --no-deps -d /tmp/cdk cdktn-provider-google==21.1.0 \\
        cdktn-provider-google-beta==21.1.0 cdktn-provider-archive==14.0.1 cdktn-provider-time==14.0.2
    python -m tests.infra.extract_provider_schema /tmp/cdk/*.whl
    # or one by one: --wheel /tmp/cdk/cdktn_provider_google-21.1.0-py3-none-any.whl --wheel ...

The wheels are large (about 70 MB each for google and google-beta) and only this script reads
them: they are not dependencies of the project and belong in no requirements file.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.infra.terraform_config import TERRAFORM_DIR, load

OUT = Path(__file__).with_name("provider_schema.json")

# "Represents a {@link https://registry.terraform.io/providers/hashicorp/google/8.7.0/docs/resources/pubsub_topic google_pubsub_topic}."
_TYPE_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/(?P<source>[a-z0-9-]+/(?P<provider>[a-z0-9-]+))/"
    r"(?P<version>[0-9][^/]*)/docs/(?P<section>resources|data-sources)/[a-z0-9_]+ (?P<type>[a-z0-9_]+)\}"
)
# "Docs at Terraform Registry: {@link https://.../docs/resources/pubsub_topic#message_retention_duration PubsubTopic#...}"
_ARGUMENT_LINK = re.compile(r"\{@link https://registry\.terraform\.io/providers/[^ #]+#([a-z0-9_]+) ")
_SECTIONS = {"resources": "resource", "data-sources": "data"}
_BOUNDS = ("min_items", "max_items")


@dataclass(frozen=True)
class Assembly:
    """One provider's jsii assembly: the provider, its version and its types by fqn."""

    wheel: str
    provider: str
    source: str
    version: str
    types: dict[str, dict[str, Any]]
    # (section, Terraform type) -> fqn of its config struct
    configs: dict[tuple[str, str], str]


def read_assembly(wheel: Path) -> Assembly:
    with zipfile.ZipFile(wheel) as archive:
        members = [n for n in archive.namelist() if re.search(r"/_jsii/[^/]+\.jsii\.tgz$", n)]
        if len(members) != 1:
            raise SystemExit(f"{wheel}: expected one _jsii/*.jsii.tgz, found {members}")
        tgz = archive.read(members[0])
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        handle = tar.extractfile("package/.jsii")
        if handle is None:
            raise SystemExit(f"{wheel}: the jsii tarball has no package/.jsii")
        assembly = json.load(handle)

    types: dict[str, dict[str, Any]] = assembly["types"]
    configs: dict[tuple[str, str], str] = {}
    found: set[tuple[str, str, str]] = set()
    for spec in types.values():
        if spec.get("base") not in ("cdktn.TerraformResource", "cdktn.TerraformDataSource"):
            continue
        match = _TYPE_LINK.search(spec.get("docs", {}).get("summary", ""))
        if not match:
            raise SystemExit(f"{wheel}: {spec['fqn']} names no registry page; the format changed")
        found.add((match["source"], match["provider"], match["version"]))
        config = next(p for p in spec["initializer"]["parameters"] if p["name"] == "config")
        configs[(_SECTIONS[match["section"]], match["type"])] = config["type"]["fqn"]
    if len(found) != 1:
        raise SystemExit(f"{wheel}: expected the types of one provider version, found {sorted(found)}")
    (source, provider, version) = found.pop()
    return Assembly(wheel.name, provider, source, version, types, configs)


def _struct_of(type_ref: dict[str, Any]) -> tuple[str, bool] | None:
    """(fqn, is a list) when a property's type is a nested block's struct, else None."""
    if "fqn" in type_ref:
        return (type_ref["fqn"], False) if not type_ref["fqn"].startswith("cdktn.") else None
    if "union" in type_ref:
        structs = [s for s in (_struct_of(t) for t in type_ref["union"]["types"]) if s]
        return structs[0] if structs else None
    if "collection" in type_ref:
        inner = _struct_of(type_ref["collection"]["elementtype"])
        return (inner[0], True) if inner else None
    return None


def _terraform_name(prop: dict[str, Any], where: str) -> str:
    docs = prop.get("docs", {})
    match = _ARGUMENT_LINK.search(f"{docs.get('summary', '')} {docs.get('remarks', '')}")
    if match:
        return match[1]
    # A few long descriptions lose their docs link; the camelCase name then converts back, unless
    # the generator renamed a reserved word (those end in "Attribute").
    if prop["name"].endswith("Attribute"):
        raise SystemExit(f"{where}.{prop['name']}: no docs link to learn its Terraform name from")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", prop["name"]).lower()


def block_schema(assembly: Assembly, fqn: str, where: str) -> dict[str, Any]:
    """Arguments ("required"/"optional") and nested blocks of the struct `fqn`."""
    struct = assembly.types[fqn]
    if not struct.get("datatype"):
        raise SystemExit(f"{where}: {fqn} is not a struct")
    arguments: dict[str, str] = {}
    blocks: dict[str, dict[str, Any]] = {}
    for prop in struct.get("properties", []):
        name = _terraform_name(prop, where)
        required = not prop.get("optional", False)
        nested = _struct_of(prop["type"])
        if nested is None:
            arguments[name] = "required" if required else "optional"
            continue
        if not prop.get("docs", {}).get("summary", "").endswith(" block."):
            # A struct that is not documented as a block would be a nested attribute (`name = {}`),
            # which this format does not describe yet.
            raise SystemExit(f"{where}.{name}: a struct-typed property that is not a block")
        block_fqn, is_list = nested
        block = block_schema(assembly, block_fqn, f"{where}.{name}")
        if required:
            block["min_items"] = 1
        if not is_list:
            # The generator gives a single struct (not a list) to blocks with MaxItems 1.
            block["max_items"] = 1
        blocks[name] = block
    schema: dict[str, Any] = {"arguments": arguments}
    if blocks:
        schema["blocks"] = blocks
    return schema


def merge(schemas: dict[str, dict[str, Any]], where: str) -> dict[str, Any]:
    """One schema for a type several providers have; names missing from some go in `only_in`."""
    merged: dict[str, Any] = {"arguments": {}}
    only_in: dict[str, list[str]] = {}
    providers = sorted(schemas)
    names = sorted({n for s in schemas.values() for n in s["arguments"]})
    for name in names:
        having = {p: s["arguments"][name] for p, s in schemas.items() if name in s["arguments"]}
        if len(set(having.values())) > 1:
            raise SystemExit(f"{where}.{name} is required in some providers only: {having}")
        merged["arguments"][name] = next(iter(having.values()))
        if len(having) < len(providers):
            only_in[name] = sorted(having)
    block_names = sorted({n for s in schemas.values() for n in s.get("blocks", {})})
    for name in block_names:
        having = {p: s["blocks"][name] for p, s in schemas.items() if name in s.get("blocks", {})}
        bounds = {tuple(b.get(k) for k in _BOUNDS) for b in having.values()}
        if len(bounds) > 1:
            raise SystemExit(f"{where}.{name} has different min/max items per provider: {having}")
        inner = merge(having, f"{where}.{name}")
        inner.update({k: v for k, v in next(iter(having.values())).items() if k in _BOUNDS})
        merged.setdefault("blocks", {})[name] = inner
        if len(having) < len(providers):
            only_in[name] = sorted(having)
    if only_in:
        merged["only_in"] = only_in
    return merged


def used_types(directory: Path) -> set[tuple[str, str]]:
    config = load(directory)
    return {("resource", kind) for kind, _ in config.resources} | {("data", kind) for kind, _ in config.data}


def extract(wheels: Iterable[Path], directory: Path = TERRAFORM_DIR) -> dict[str, Any]:
    wanted = used_types(directory)
    providers: dict[str, dict[str, str]] = {}
    per_type: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for wheel in wheels:
        assembly = read_assembly(wheel)
        if assembly.provider in providers:
            raise SystemExit(f"two wheels for the provider {assembly.provider}")
        providers[assembly.provider] = {
            "source": assembly.source,
            "version": assembly.version,
            "extracted_from": assembly.wheel,
        }
        for key in sorted(wanted & set(assembly.configs)):
            where = f"{key[1]} ({assembly.provider})"
            per_type.setdefault(key, {})[assembly.provider] = block_schema(
                assembly, assembly.configs[key], where
            )
        print(f"{assembly.provider} {assembly.version}: {len(assembly.configs)} types", file=sys.stderr)
        del assembly

    missing = sorted(wanted - set(per_type))
    if missing:
        names = ", ".join(f"{section} {kind}" for section, kind in missing)
        raise SystemExit(f"no wheel describes {names}: add the wheel of its provider")

    result: dict[str, Any] = {
        "_about": "Generated by `python -m tests.infra.extract_provider_schema` (see its docstring); do not edit.",
        "providers": providers,
        "data": {},
        "resource": {},
    }
    for (section, kind), schemas in sorted(per_type.items()):
        schema = merge(schemas, kind)
        schema["providers"] = sorted(schemas)
        result[section][kind] = schema
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheels", nargs="*", type=Path, help="cdktn-provider-* wheels")
    parser.add_argument("--wheel", action="append", type=Path, default=[], help="a wheel (repeatable)")
    parser.add_argument("--terraform", type=Path, default=TERRAFORM_DIR, help="the *.tf folder")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    wheels = [*args.wheels, *args.wheel]
    if not wheels:
        parser.error("name at least one cdktn-provider-* wheel")
    schema = extract(wheels, args.terraform)
    args.out.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"wrote {args.out} ({len(schema['resource'])} resource, {len(schema['data'])} data types)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
