"""Which index production Firestore (native mode) would serve a query shape from, if any.

The rules, as Firestore documents them:

- Every field has single-field indexes, ascending, descending and array-contains, for COLLECTION
  scope only; a `google_firestore_field` with an `index_config` replaces them for that field (an
  empty `index_config {}` removes them). Collection-group queries need such an override (or a
  composite index) with COLLECTION_GROUP scope. The document name has its own index either way.
- Orders: the explicit ones, then every inequality field not ordered yet (lexicographically), then
  `__name__`, each appended in the direction of the last explicit order, ascending if none (the
  StructuredQuery.order_by contract). A trailing `__name__` in that direction is implicit in every
  index, so it needs nothing.
- A query with filters or orders on one field only is served by that field's single-field index
  in the direction it is ordered. Equality (and array-contains) filters alone, on any number of
  fields, are served by merging single-field indexes.
- Anything else needs a composite index of the same collection and scope whose fields are the
  equality and array-contains fields first (in any order; ascending or descending for equality,
  CONTAINS for the array field), then the orders, exactly in order and direction.
- A nearest-neighbour query needs a composite index whose last field has a `vector_config` on
  its vector field, after its pre-filter fields as above.
- An OR needs an index for each conjunction of its disjunctive normal form. Aggregations use the
  index of the query they aggregate over.

It asks for an exact composite, although Firestore can sometimes merge composite indexes too: a
check may only ever demand more than production needs, never less.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.infra.terraform_config import TerraformConfig
from tests.support.firestore_queries import ASCENDING, DESCENDING, Composite, Condition, Filter, Record, Shape

COLLECTION = "COLLECTION"
COLLECTION_GROUP = "COLLECTION_GROUP"
CONTAINS = "CONTAINS"
VECTOR = "VECTOR"
NAME = "__name__"

EQUALITY_OPS = frozenset({"==", "in", "is-null", "is-nan"})
CONTAINS_OPS = frozenset({"array_contains", "array_contains_any"})
INEQUALITY_OPS = frozenset({"<", "<=", ">", ">=", "!=", "not-in", "is-not-null", "is-not-nan"})

AUTOMATIC = frozenset({ASCENDING, DESCENDING, CONTAINS})


# -- what terraform/ declares --------------------------------------------------------------------


@dataclass(frozen=True)
class IndexField:
    field: str
    mode: str  # ASCENDING | DESCENDING | CONTAINS | VECTOR


@dataclass(frozen=True)
class CompositeIndex:
    address: str  # google_firestore_index.name["key"]
    collection: str
    scope: str
    fields: tuple[IndexField, ...]


@dataclass(frozen=True)
class FieldOverride:
    """A `google_firestore_field` index_config: the single-field indexes it leaves, per scope."""

    address: str
    collection: str
    field: str
    indexes: frozenset[tuple[str, str]]  # (scope, mode)

    def modes(self, scope: str) -> frozenset[str]:
        return frozenset(mode for s, mode in self.indexes if s == scope)


@dataclass
class DeclaredIndexes:
    composites: list[CompositeIndex] = field(default_factory=list)
    overrides: dict[tuple[str, str], FieldOverride] = field(default_factory=dict)

    def single_field(self, collection: str, field_path: str, scope: str) -> tuple[frozenset[str], str | None]:
        """The single-field index modes `field_path` has in `scope`, and the override that set them."""
        if field_path == NAME:
            return frozenset({ASCENDING, DESCENDING}), None
        override = self.overrides.get((collection, field_path))
        if override is not None:
            return override.modes(scope), override.address
        return (AUTOMATIC if scope == COLLECTION else frozenset()), None


def declared_indexes(config: TerraformConfig) -> DeclaredIndexes:
    declared = DeclaredIndexes()
    for name, body in config.resources_of("google_firestore_index").items():
        for address, instance in _instances(config, "google_firestore_index", name, body):
            if _text(instance.get("api_scope", "ANY_API"), address) == "DATASTORE_MODE_API":
                continue  # serves Datastore-mode queries only
            declared.composites.append(
                CompositeIndex(
                    address=address,
                    collection=_text(instance["collection"], address),
                    scope=_text(instance.get("query_scope", COLLECTION), address),
                    fields=_without_implicit_name(
                        tuple(_index_field(f, address) for f in instance["fields"])
                    ),
                )
            )
    for name, body in config.resources_of("google_firestore_field").items():
        for address, instance in _instances(config, "google_firestore_field", name, body):
            if "index_config" not in instance:
                continue  # a TTL policy only: the field keeps its automatic indexes
            (index_config,) = instance["index_config"]
            override = FieldOverride(
                address=address,
                collection=_text(instance["collection"], address),
                field=_text(instance["field"], address),
                indexes=frozenset(
                    (_text(i.get("query_scope", COLLECTION), address), _index_mode(i, address))
                    for i in index_config.get("indexes", [])
                ),
            )
            key = (override.collection, override.field)
            if key in declared.overrides:
                raise AssertionError(f"{address} and {declared.overrides[key].address} both configure {key}")
            declared.overrides[key] = override
    return declared


_EACH = re.compile(r"\$\{each\.(key|value)((?:\.\w+)*)\}")
_FOR_EACH_LOCAL = re.compile(r"\$\{(?:toset\(local\.(\w+)\)|local\.(\w+))\}")


def _instances(config: TerraformConfig, kind: str, name: str, body: dict[str, Any]) -> list[tuple[str, dict]]:
    """The resource's instances with `each.key` / `each.value` resolved."""
    for unsupported in ("count", "dynamic"):
        if unsupported in body:
            raise AssertionError(f"{kind}.{name}: `{unsupported}` is not understood by the index check")
    if "for_each" not in body:
        return [(f"{kind}.{name}", body)]
    items = body["for_each"]
    if isinstance(items, str):
        match = _FOR_EACH_LOCAL.fullmatch(items)
        if not match:
            raise AssertionError(f"{kind}.{name}: cannot resolve for_each = {items!r}")
        items = config.locals[match[1] or match[2]]
    if isinstance(items, list):
        pairs = [(str(item), item) for item in items]
    elif isinstance(items, dict):
        pairs = [(key, value) for key, value in items.items() if key != "__is_block__"]
    else:
        raise AssertionError(f"{kind}.{name}: cannot resolve for_each = {items!r}")
    return [
        (
            f'{kind}.{name}["{key}"]',
            _substitute({k: v for k, v in body.items() if k != "for_each"}, key, value),
        )
        for key, value in pairs
    ]


def _substitute(node: Any, key: str, value: Any) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, key, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, key, value) for v in node]
    if not isinstance(node, str):
        return node

    def resolve(match: re.Match[str]) -> Any:
        found = key if match[1] == "key" else value
        for attribute in filter(None, match[2].split(".")):
            if not isinstance(found, dict) or attribute not in found:
                raise AssertionError(f"each.{match[1]}{match[2]} does not exist in {value!r}")
            found = found[attribute]
        return found

    whole = _EACH.fullmatch(node)
    if whole:
        return resolve(whole)
    return _EACH.sub(lambda m: str(resolve(m)), node)


def _text(value: Any, address: str) -> str:
    if not isinstance(value, str) or "${" in value:
        raise AssertionError(f"{address}: cannot resolve {value!r}")
    return value


def _index_mode(block: dict[str, Any], address: str) -> str:
    if "order" in block:
        return _text(block["order"], address)
    if "array_config" in block:
        return CONTAINS if _text(block["array_config"], address) == CONTAINS else "?"
    if "vector_config" in block:
        return VECTOR
    raise AssertionError(f"{address}: an index field needs order, array_config or vector_config")


def _index_field(block: dict[str, Any], address: str) -> IndexField:
    return IndexField(_text(block["field_path"], address), _index_mode(block, address))


def _without_implicit_name(fields: tuple[IndexField, ...]) -> tuple[IndexField, ...]:
    """Firestore ends every index with __name__ in the direction of its last field."""
    if len(fields) > 1 and fields[-1].field == NAME and fields[-1].mode == fields[-2].mode:
        return fields[:-1]
    return fields


# -- what a shape needs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """The index one conjunction of a query needs."""

    collection: str
    scope: str
    equality: frozenset[str] = frozenset()
    contains: frozenset[str] = frozenset()
    orders: tuple[tuple[str, str], ...] = ()  # implicit ones included, the implicit __name__ not
    vector_field: str | None = None

    @property
    def kind(self) -> str:
        """none | single (one field's index) | merge (single-field indexes) | composite."""
        if self.vector_field:
            return "composite"
        if not self.orders:
            return "merge" if (self.equality - {NAME}) or self.contains else "none"
        fields = self.equality | self.contains | {f for f, _ in self.orders}
        if len(self.orders) == 1 and not self.contains and fields == {self.orders[0][0]}:
            return "single"
        return "composite"

    def describe(self) -> str:
        kind = self.kind
        where = f"{self.collection} ({self.scope})"
        if kind == "none":
            return f"no index ({where})"
        if kind == "single":
            f, d = self.orders[0]
            return f"single-field index {where}: {f} {d}"
        parts = [f"{f} (==)" for f in sorted(self.equality)] + [
            f"{f} CONTAINS" for f in sorted(self.contains)
        ]
        if kind == "merge":
            return f"single-field indexes {where}: " + ", ".join(parts)
        parts += [f"{f} {d}" for f, d in self.orders]
        if self.vector_field:
            parts.append(f"{self.vector_field} VECTOR")
        return f"composite index {where}: " + ", ".join(parts)


def needs_of(shape: Shape) -> list[Need]:
    """One need per conjunction of the shape's filter (one, unless it has an OR)."""
    conjunctions = _conjunctions(shape.filter)
    for condition in itertools.chain.from_iterable(conjunctions):
        if condition.op not in EQUALITY_OPS | CONTAINS_OPS | INEQUALITY_OPS:
            raise ValueError(f"unknown operator {condition.op!r} in {shape.describe()}")
    orders = _effective_orders(shape.orders, itertools.chain.from_iterable(conjunctions))
    scope = COLLECTION_GROUP if shape.collection_group else COLLECTION
    return [
        Need(
            collection=shape.collection,
            scope=scope,
            equality=frozenset(c.field for c in conjunction if c.op in EQUALITY_OPS),
            contains=frozenset(c.field for c in conjunction if c.op in CONTAINS_OPS),
            orders=orders,
            vector_field=shape.vector_field,
        )
        for conjunction in dict.fromkeys(tuple(c) for c in conjunctions)
    ]


def _conjunctions(node: Filter | None) -> list[list[Condition]]:
    if node is None:
        return [[]]
    if isinstance(node, Condition):
        return [[node]]
    assert isinstance(node, Composite)
    parts = [_conjunctions(part) for part in node.parts]
    if node.op == "or":
        return [conjunction for part in parts for conjunction in part]
    if node.op == "and":
        return [[c for conjunction in combo for c in conjunction] for combo in itertools.product(*parts)]
    raise ValueError(f"unknown composite operator {node.op!r}")


def _effective_orders(
    explicit: tuple[tuple[str, str], ...], conditions: Iterable[Condition]
) -> tuple[tuple[str, str], ...]:
    orders = list(explicit)
    direction = orders[-1][1] if orders else ASCENDING
    ordered = {f for f, _ in orders}
    inequality = sorted({c.field for c in conditions if c.op in INEQUALITY_OPS} - ordered)
    orders += [(f, direction) for f in inequality]
    if orders and orders[-1][0] == NAME:
        before = orders[-2][1] if len(orders) > 1 else ASCENDING
        if orders[-1][1] == before:
            orders.pop()
    return tuple(orders)


# -- what serves it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Serving:
    """What serves a need: a description, and the declared indexes (address, scope) it uses."""

    description: str
    uses: tuple[tuple[str, str], ...] = ()


def serve(need: Need, declared: DeclaredIndexes) -> Serving | None:
    kind = need.kind
    if kind == "none":
        return Serving("the built-in document-name index")
    if kind == "single":
        f, direction = need.orders[0]
        modes, override = declared.single_field(need.collection, f, need.scope)
        if direction in modes:
            return Serving(_single_description(f, direction, override), _uses(override, need.scope))
        return _composite(need, declared)
    if kind == "merge":
        wanted = [(f, frozenset({ASCENDING, DESCENDING})) for f in sorted(need.equality - {NAME})]
        wanted += [(f, frozenset({CONTAINS})) for f in sorted(need.contains)]
        found = []
        for f, acceptable in wanted:
            modes, override = declared.single_field(need.collection, f, need.scope)
            if not modes & acceptable:
                return _composite(need, declared)
            found.append((f, sorted(modes & acceptable)[0], override))
        return Serving(
            " + ".join(_single_description(f, mode, override) for f, mode, override in found),
            tuple(use for _, _, override in found for use in _uses(override, need.scope)),
        )
    return _composite(need, declared)


def _single_description(field_path: str, mode: str, override: str | None) -> str:
    if field_path == NAME:
        return "the built-in document-name index"
    return (
        f"{override} ({field_path} {mode})"
        if override
        else f"automatic single-field index ({field_path} {mode})"
    )


def _uses(override: str | None, scope: str) -> tuple[tuple[str, str], ...]:
    return ((override, scope),) if override else ()


def _composite(need: Need, declared: DeclaredIndexes) -> Serving | None:
    for index in declared.composites:
        if _composite_serves(index, need):
            return Serving(index.address, ((index.address, index.scope),))
    return None


def _composite_serves(index: CompositeIndex, need: Need) -> bool:
    if (index.collection, index.scope) != (need.collection, need.scope) or len(need.contains) > 1:
        return False
    prefix_size = len(need.equality) + len(need.contains)
    prefix, rest = index.fields[:prefix_size], index.fields[prefix_size:]
    equality = {f.field for f in prefix if f.mode in (ASCENDING, DESCENDING)}
    contains = {f.field for f in prefix if f.mode == CONTAINS}
    if len(prefix) != prefix_size or equality != need.equality or contains != need.contains:
        return False
    expected = [IndexField(f, d) for f, d in need.orders]
    if need.vector_field:
        expected.append(IndexField(need.vector_field, VECTOR))
    return list(rest) == expected


# -- the verdict ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    shape: Shape
    origins: tuple[str, ...]
    served: tuple[tuple[Need, Serving | None], ...]

    @property
    def refused(self) -> bool:
        return any(serving is None for _, serving in self.served)

    def describe(self) -> str:
        lines = [self.shape.describe(), "    built at " + ", ".join(self.origins)]
        for need, serving in self.served:
            answer = serving.description if serving else "NOTHING DECLARED: production refuses it"
            lines.append(f"    needs {need.describe()} <- {answer}")
        return "\n".join(lines)


def judge(records: Iterable[Record], declared: DeclaredIndexes) -> list[Verdict]:
    """A verdict for every distinct shape production code built, with where it was built."""
    origins: dict[Shape, set[str]] = defaultdict(set)
    for record in records:
        if record.production:
            origins[record.shape].add(f"{record.origin} [{record.process}]")
    return [
        Verdict(
            shape, tuple(sorted(places)), tuple((need, serve(need, declared)) for need in needs_of(shape))
        )
        for shape, places in sorted(origins.items(), key=lambda item: item[0].describe())
    ]


def unused(declared: DeclaredIndexes, verdicts: Iterable[Verdict]) -> list[str]:
    """Declared composite indexes, and field overrides adding collection-group indexes, no verdict uses."""
    used = {use for verdict in verdicts for _, serving in verdict.served if serving for use in serving.uses}
    used_addresses = {address for address, _ in used}
    idle = [index.address for index in declared.composites if index.address not in used_addresses]
    idle += [
        override.address
        for override in declared.overrides.values()
        if override.modes(COLLECTION_GROUP) and (override.address, COLLECTION_GROUP) not in used
    ]
    return sorted(idle)
